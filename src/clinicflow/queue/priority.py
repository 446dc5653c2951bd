"""The order in which a doctor's waiting patients are seen: pure arithmetic, no database.

Emergencies come first. The others are ordered by a score from the clinic's rules, highest
first, then by token. The score's aging term grows at the same rate for everyone, so it
never reorders two patients already waiting; it lets an early patient overtake the
higher-scored patients who arrive long after them, so nobody waits forever. Entries moved
by hand sit just before the entry they were put before, while that one still waits.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from clinicflow.identity.schemas import PatientType
from clinicflow.queue.schemas import Severity


@dataclass(frozen=True)
class Rules:
    """One version of the clinic's queue rules. The defaults serve in token order with
    emergencies first."""

    severity_weights: dict[str, float] = field(
        default_factory=lambda: {Severity.urgent.value: 0.0, Severity.routine.value: 0.0}
    )
    patient_type_weights: dict[str, float] = field(
        default_factory=lambda: {
            PatientType.child.value: 0.0,
            PatientType.elderly.value: 0.0,
            PatientType.pregnant.value: 0.0,
            PatientType.disabled.value: 0.0,
        }
    )
    late_appointment_bonus: float = 0.0
    aging_weight_per_minute: float = 0.0
    no_show_grace_minutes: int = 10
    check_in_window_minutes: int = 60


@dataclass(frozen=True)
class Candidate:
    """What ordering needs to know of one waiting entry."""

    id: uuid.UUID
    token: int
    severity: Severity
    patient_type: PatientType
    joined_at: datetime
    appointment_starts_at: datetime | None = None
    pinned_before_id: uuid.UUID | None = None
    pinned_at: datetime | None = None


def score(candidate: Candidate, rules: Rules, now: datetime) -> float:
    """Higher is seen sooner (emergencies aside)."""
    value = rules.severity_weights.get(candidate.severity.value, 0.0)
    value += rules.patient_type_weights.get(candidate.patient_type.value, 0.0)
    starts_at = candidate.appointment_starts_at
    if starts_at is not None and starts_at <= now:
        value += rules.late_appointment_bonus
    waited = max(0.0, (now - candidate.joined_at).total_seconds() / 60)
    return value + rules.aging_weight_per_minute * waited


def order(candidates: Iterable[Candidate], rules: Rules, now: datetime) -> list[Candidate]:
    """The waiting entries, first to be seen first."""
    everyone = {c.id: c for c in candidates}
    placed = sorted(
        everyone.values(),
        key=lambda c: (c.severity is not Severity.emergency, -score(c, rules, now), c.token),
    )
    pinned = [
        c
        for c in everyone.values()
        if c.pinned_before_id is not None and c.pinned_before_id in everyone
    ]
    done: set[uuid.UUID] = set()

    def place(candidate: Candidate, path: frozenset[uuid.UUID]) -> None:
        if candidate.id in done or candidate.pinned_before_id not in everyone:
            return
        target = everyone[candidate.pinned_before_id]
        if target.id in path:
            # A circle of moves (the service breaks them when moving) keeps its score order.
            return
        place(target, path | {candidate.id})
        placed.remove(candidate)
        placed.insert(placed.index(target), candidate)
        done.add(candidate.id)

    for candidate in sorted(pinned, key=lambda c: (c.pinned_at or c.joined_at, c.token)):
        place(candidate, frozenset({candidate.id}))
    return placed

"""Properties of the order in which waiting patients are seen (pure, no database)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from clinicflow.identity.schemas import PatientType
from clinicflow.queue.priority import Candidate, Rules, order, score
from clinicflow.queue.schemas import Severity

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
weights = st.floats(min_value=-50, max_value=50, allow_nan=False)


@st.composite
def rules(draw: st.DrawFn, aging: bool | None = None) -> Rules:
    per_minute = (
        draw(st.floats(min_value=0.01, max_value=5))
        if aging
        else 0.0
        if aging is False
        else draw(st.floats(min_value=0, max_value=5))
    )
    return Rules(
        severity_weights={s.value: draw(weights) for s in (Severity.urgent, Severity.routine)},
        patient_type_weights={t.value: draw(weights) for t in PatientType},
        late_appointment_bonus=draw(weights),
        aging_weight_per_minute=per_minute,
    )


@st.composite
def candidates(draw: st.DrawFn, max_size: int = 25) -> list[Candidate]:
    count = draw(st.integers(min_value=0, max_value=max_size))
    tokens = draw(st.permutations(range(1, count + 1)))
    made = []
    for token in tokens:
        joined = NOW - timedelta(minutes=draw(st.integers(min_value=0, max_value=300)))
        booked = draw(st.none() | st.integers(min_value=-120, max_value=120))
        made.append(
            Candidate(
                id=uuid.uuid4(),
                token=token,
                severity=draw(st.sampled_from(Severity)),
                patient_type=draw(st.sampled_from(PatientType)),
                joined_at=joined,
                appointment_starts_at=None if booked is None else NOW + timedelta(minutes=booked),
            )
        )
    return made


@given(candidates(), rules())
def test_the_order_is_a_permutation_with_emergencies_first(
    waiting: list[Candidate], clinic_rules: Rules
) -> None:
    ordered = order(waiting, clinic_rules, NOW)
    assert sorted(c.token for c in ordered) == sorted(c.token for c in waiting)
    emergencies = [c.severity is Severity.emergency for c in ordered]
    assert emergencies == sorted(emergencies, reverse=True)


@given(candidates(), rules())
def test_position_is_the_number_of_waiting_entries_ordered_before(
    waiting: list[Candidate], clinic_rules: Rules
) -> None:
    ordered = order(waiting, clinic_rules, NOW)
    for position, entry in enumerate(ordered):
        ahead = [
            other
            for other in waiting
            if other.id != entry.id
            and (
                (
                    other.severity is Severity.emergency,
                    score(other, clinic_rules, NOW),
                    -other.token,
                )
                > (
                    entry.severity is Severity.emergency,
                    score(entry, clinic_rules, NOW),
                    -entry.token,
                )
            )
        ]
        assert position == len(ahead)


@given(candidates())
def test_the_default_rules_serve_in_token_order_with_emergencies_first(
    waiting: list[Candidate],
) -> None:
    ordered = order(waiting, Rules(), NOW)
    expected = sorted(waiting, key=lambda c: (c.severity is not Severity.emergency, c.token))
    assert [c.token for c in ordered] == [c.token for c in expected]


@given(
    candidates(max_size=15),
    rules(aging=True),
    st.sampled_from([s for s in Severity if s is not Severity.emergency]),
)
def test_with_aging_every_patient_is_eventually_first_among_later_arrivals(
    waiting: list[Candidate], clinic_rules: Rules, severity: Severity
) -> None:
    """However highly newcomers score, a patient who has waited long enough is ahead of
    everyone who arrives after that (emergencies aside), so nobody waits forever."""
    early = Candidate(
        id=uuid.uuid4(),
        token=10_000,
        severity=severity,
        patient_type=PatientType.adult,
        joined_at=NOW - timedelta(minutes=1),
    )
    spread = sum(abs(w) for w in clinic_rules.severity_weights.values())
    spread += sum(abs(w) for w in clinic_rules.patient_type_weights.values())
    spread += abs(clinic_rules.late_appointment_bonus)
    later_time = NOW + timedelta(minutes=2 + spread / clinic_rules.aging_weight_per_minute)
    newcomers = [
        Candidate(
            id=c.id,
            token=c.token,
            severity=Severity.urgent if c.severity is Severity.emergency else c.severity,
            patient_type=c.patient_type,
            joined_at=later_time,
            appointment_starts_at=c.appointment_starts_at,
        )
        for c in waiting
    ]
    assert order([*newcomers, early], clinic_rules, later_time)[0].id == early.id


def test_a_moved_entry_stays_just_before_its_target() -> None:
    made = [
        Candidate(
            id=uuid.uuid4(),
            token=n,
            severity=Severity.routine,
            patient_type=PatientType.adult,
            joined_at=NOW,
        )
        for n in range(1, 6)
    ]
    moved = Candidate(
        id=made[4].id,
        token=5,
        severity=Severity.routine,
        patient_type=PatientType.adult,
        joined_at=NOW,
        pinned_before_id=made[1].id,
        pinned_at=NOW,
    )
    ordered = order([*made[:4], moved], Rules(), NOW)
    assert [c.token for c in ordered] == [1, 5, 2, 3, 4]
    # Once the target has left the waiting list, the moved entry is ordered by its score.
    assert [c.token for c in order([made[0], *made[2:4], moved], Rules(), NOW)] == [1, 3, 4, 5]

"""Sync as a property: any interleaving of online changes and offline batches, resent any
number of times and delivered in any order, applies each mutation once, and every client
that pulls to the end holds the server's state of what it may see."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core.clock import FrozenClock
from clinicflow.queue.models import QueueEntry
from clinicflow.queue.schemas import EntrySource
from tests.queue.clinic import AFTERNOON
from tests.sync.clinic import SyncClinic, cancel, check_in, walk_in

PHONES = itertools.count(1)
CLIENTS = ("desk_a", "desk_b", "patient_0", "patient_1")

steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("online"), st.sampled_from(["check_in", "cancel", "call"]), st.integers(0, 1)
        ),
        st.tuples(
            st.just("deliver"),
            st.sampled_from(CLIENTS),
            st.lists(st.booleans(), min_size=3, max_size=3),
        ),
        st.tuples(st.just("pull"), st.sampled_from(CLIENTS), st.just(0)),
    ),
    min_size=1,
    max_size=10,
)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=steps)
async def test_any_interleaving_applies_each_mutation_once_and_pulls_converge(
    clinic: SyncClinic, session: AsyncSession, frozen_clock: FrozenClock, plan: list[Any]
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    headers = {"desk_a": await clinic.front_desk(), "desk_b": await clinic.front_desk()}
    appointments = []
    for n in range(2):
        _patient, headers[f"patient_{n}"] = await clinic.patient_without_texting()
        booked = await clinic.book(headers[f"patient_{n}"], doctor, AFTERNOON[8 + n])
        assert booked.status_code == 201, booked.text
        appointments.append(booked.json()["id"])
    phones = [f"+25411{next(PHONES):07d}" for _ in range(3)]
    # Two desks register the same person (phones[0]) and check in the same appointment.
    batches = {
        "desk_a": [
            walk_in("a1", doctor.id, phones[0], "Amina"),
            walk_in("a2", doctor.id, phones[1], "Baraka"),
            check_in("a3", appointments[0], base_version=1),
        ],
        "desk_b": [
            walk_in("b1", doctor.id, phones[0], "Amina W."),
            check_in("b2", appointments[0]),
            walk_in("b3", doctor.id, phones[2], "Chausiku"),
        ],
        "patient_0": [cancel("p0", appointments[0], base_version=1)] * 3,
        "patient_1": [cancel("p1", appointments[1], base_version=1)] * 3,
    }
    answers: dict[tuple[str, str], list[dict[str, Any]]] = {}
    held: dict[str, dict[str, Any]] = {client: {} for client in CLIENTS}
    cursors: dict[str, str | None] = dict.fromkeys(CLIENTS)

    for kind, what, arg in plan:
        if kind == "online":
            if what == "check_in":
                await clinic.client.post(
                    "/api/queue/check-in",
                    json={"appointment_id": appointments[arg]},
                    headers=headers["desk_a"],
                )
            elif what == "cancel":
                await clinic.client.post(
                    f"/api/appointments/{appointments[arg]}/cancel",
                    headers=headers[f"patient_{arg}"],
                )
            else:
                await clinic.act(doctor_headers, f"{doctor.id}/call-next")
        elif kind == "deliver":
            sent = [m for m, keep in zip(batches[what], arg, strict=True) if keep]
            for mutation, result in zip(sent, await clinic.push(headers[what], *sent), strict=True):
                answers.setdefault((what, mutation["client_id"]), []).append(result)
        else:
            cursors[what] = await clinic.mirror(headers[what], held[what], cursors[what])

    # Once a mutation took effect (or was found already done), every later answer is that
    # first result again, marked duplicate: it never applies twice.
    applied_walk_ins = 0
    for (_client, client_id), results in answers.items():
        taken = [r for r in results if r["status"] in ("applied", "duplicate")]
        if not taken:
            continue
        first = taken[0]
        later = results[results.index(first) + 1 :]
        assert all(r["status"] == "duplicate" for r in later), results
        assert all(r["result"] == first["result"] for r in later), results
        if client_id in ("a1", "a2", "b1", "b3") and first["status"] == "applied":
            applied_walk_ins += 1
    walk_in_places = await session.scalar(
        select(func.count())
        .select_from(QueueEntry)
        .where(QueueEntry.doctor_id == doctor.id, QueueEntry.source == EntrySource.walk_in)
    )
    assert walk_in_places == applied_walk_ins
    registered = {
        p
        for (_c, cid), rs in answers.items()
        for p in [_phone(batches, cid)]
        if p and any(r["status"] in ("applied", "duplicate") for r in rs)
    }
    assert applied_walk_ins == len(registered)
    # Every copy, pulled to the end, is the server's state of what its holder may see.
    for client in CLIENTS:
        await clinic.mirror(headers[client], held[client], cursors[client])
        fresh: dict[str, Any] = {}
        await clinic.mirror(headers[client], fresh, None)
        assert held[client] == fresh, client


def _phone(batches: dict[str, list[dict[str, Any]]], client_id: str) -> str | None:
    for batch in batches.values():
        for mutation in batch:
            if mutation["client_id"] == client_id and mutation["type"] == "walk_in":
                phone: str = mutation["data"]["phone"]
                return phone
    return None

"""The per-user event log behind `user:<id>`: numbered per person in commit order, read
after `since`, bounded by count and by age, and readable only by the person themself,
over polling and over a socket's catch-up."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clinicflow import realtime
from clinicflow.core import clock
from clinicflow.identity.schemas import Role
from clinicflow.realtime import Event, user_events
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login
from tests.realtime.conftest import Server, connect


async def publish(runtime: Runtime, user_id: uuid.UUID, *numbers: int) -> None:
    async with runtime.transaction() as session:
        for n in numbers:
            await realtime.publish_to_user(session, user_id, type="note", data={"n": n})


async def poll(
    client: httpx.AsyncClient, headers: dict[str, str], user_id: uuid.UUID, since: int | None
) -> httpx.Response:
    params: dict[str, str | int] = {"topic": f"user:{user_id}"}
    if since is not None:
        params["since"] = since
    return await client.get("/api/events", params=params, headers=headers)


async def test_events_come_in_order_after_since_and_a_fresh_poller_learns_the_head(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    user = await accounts.make(Role.receptionist)
    headers = bearer(await login(client, user))
    await publish(runtime, user.id, 1, 2)
    await publish(runtime, user.id, 3)

    fresh = (await poll(client, headers, user.id, None)).json()
    assert fresh == {"events": [], "seq": 3}
    everything = (await poll(client, headers, user.id, 0)).json()
    assert [(e["seq"], e["data"]["n"]) for e in everything["events"]] == [(1, 1), (2, 2), (3, 3)]
    assert everything["seq"] == 3
    assert everything["events"][0]["topic"] == f"user:{user.id}"
    later = (await poll(client, headers, user.id, 2)).json()
    assert [e["seq"] for e in later["events"]] == [3]
    caught_up = (await poll(client, headers, user.id, 3)).json()
    assert caught_up == {"events": [], "seq": 3}


async def test_only_the_person_themself_reads_their_log(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    patient = await accounts.make(Role.patient)
    await publish(runtime, patient.id, 1)
    for role in (Role.admin, Role.doctor, Role.receptionist):
        other = await accounts.make(role)
        answer = await poll(client, bearer(await login(client, other)), patient.id, 0)
        assert answer.status_code == 404, role
        assert answer.json()["error"]["code"] == "not_found"
    assert (await poll(client, {}, patient.id, 0)).status_code == 401


async def test_the_log_keeps_a_bounded_number_per_person_and_seqs_go_on(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(user_events, "KEEP_PER_USER", 5)
    user, neighbour = await accounts.make(Role.doctor), await accounts.make(Role.patient)
    await publish(runtime, neighbour.id, 1, 2)
    await publish(runtime, user.id, *range(1, 9))
    headers = bearer(await login(client, user))
    kept = (await poll(client, headers, user.id, 0)).json()
    assert [e["seq"] for e in kept["events"]] == [4, 5, 6, 7, 8]
    # Another person's log is untouched by this one's bound.
    async with runtime.transaction(write=False) as session:
        theirs = await user_events.replay(session, neighbour.id, since=0, limit=100)
    assert [e.seq for e in theirs] == [1, 2]


async def test_events_past_the_retention_are_pruned_and_numbers_are_never_reused(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: clock.FrozenClock,
) -> None:
    user = await accounts.make(Role.doctor)
    await publish(runtime, user.id, 1, 2)
    frozen_clock.advance(seconds=(user_events.RETENTION - timedelta(minutes=1)).total_seconds())
    await publish(runtime, user.id, 3)
    frozen_clock.advance(seconds=120)
    async with runtime.transaction() as session:
        assert await user_events.prune(session) == 2
    await publish(runtime, user.id, 4)
    headers = bearer(await login(client, user))
    answer = (await poll(client, headers, user.id, 0)).json()
    assert [(e["seq"], e["data"]["n"]) for e in answer["events"]] == [(3, 3), (4, 4)]


async def test_a_socket_resumes_the_log_also_across_a_pruned_hole(
    server: Server,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(user_events, "KEEP_PER_USER", 3)
    user = await accounts.make(Role.doctor)
    await publish(runtime, user.id, *range(1, 7))
    socket = await connect(server, headers=bearer(await login(client, user)))
    # Seqs 1-3 are gone: the catch-up from 1 still delivers what is kept, in order.
    caught = await socket.subscribe(f"user:{user.id}", since=1)
    assert [e["seq"] for e in caught] == [4, 5, 6]
    await publish(runtime, user.id, 7)
    live = await socket.until(lambda frame: frame.get("type") == "note")
    assert (live["seq"], live["data"]) == (7, {"n": 7})
    await socket.close()


async def test_a_persons_topic_cannot_be_published_around_the_log(runtime: Runtime) -> None:
    async with runtime.transaction() as session:
        with pytest.raises(ValueError, match="publish_to_user"):
            realtime.publish_on_commit(session, Event("user:someone", "note", {"n": 1}))


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(batches=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 3)), min_size=1, max_size=8))
async def test_concurrent_publishers_give_each_person_gap_free_numbers(
    accounts: Accounts, runtime: Runtime, batches: list[tuple[int, int]]
) -> None:
    """Whatever the interleaving of transactions over three people, each person's log is
    1..n with no number twice, and every published event is in it once."""
    people = [(await accounts.make(Role.patient)).id for _ in range(3)]
    await asyncio.gather(
        *(
            publish(runtime, people[who], *(100 * index + k for k in range(size)))
            for index, (who, size) in enumerate(batches)
        )
    )
    async with runtime.transaction(write=False) as session:
        for who, person in enumerate(people):
            logged = await user_events.replay(session, person, since=0, limit=1000)
            expected = sorted(
                100 * index + k
                for index, (w, size) in enumerate(batches)
                if w == who
                for k in range(size)
            )
            assert [e.seq for e in logged] == list(range(1, len(expected) + 1))
            assert sorted(e.data["n"] for e in logged) == expected

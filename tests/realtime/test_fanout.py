"""This process's fan-out goes after the answer, in the order each topic's events were
received."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from clinicflow.core.clock import FrozenClock
from clinicflow.realtime import fanout
from clinicflow.realtime.events import Event
from clinicflow.realtime.fanout import FanOut
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.queue.clinic import QueueClinic


def _event(n: int, topic: str = "queue:x") -> Event:
    return Event(topic=topic, type="queue.updated", data={"n": n})


async def test_a_held_event_waits_for_its_release_and_later_ones_wait_behind_it() -> None:
    delivered: list[int] = []
    fan = FanOut(lambda event: delivered.append(event.data["n"]))
    fan.receive(_event(1))  # nothing held: at once
    with fanout.holding() as hold:
        fan.receive(_event(2))
    fan.receive(_event(3))  # from another request or from Redis: behind the held one
    assert delivered == [1]
    assert hold.pending
    hold.release()
    assert delivered == [1, 2, 3]
    hold.release()  # a second release changes nothing
    fan.receive(_event(4))
    assert delivered == [1, 2, 3, 4]


async def test_a_held_event_holds_up_only_its_own_topic() -> None:
    """An answer never written (its client gone) must not pause every other topic of the
    process for the hold's bound: another consultation's chat goes on at once."""
    delivered: list[int] = []
    fan = FanOut(lambda event: delivered.append(event.data["n"]))
    with fanout.holding() as hold:
        fan.receive(_event(1))
    fan.receive(_event(2, topic="consultation:y"))
    fan.receive(_event(3))
    fan.receive(_event(4, topic="consultation:y"))
    assert delivered == [2, 4]
    hold.release()
    assert delivered == [2, 4, 1, 3]


async def test_holds_released_out_of_order_still_deliver_in_arrival_order() -> None:
    delivered: list[int] = []
    fan = FanOut(lambda event: delivered.append(event.data["n"]))
    with fanout.holding() as first:
        fan.receive(_event(1))
    with fanout.holding() as second:
        fan.receive(_event(2))
    second.release()
    assert delivered == []
    first.release()
    assert delivered == [1, 2]


async def test_a_hold_never_released_lets_go_after_the_longest_wait(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(fanout, "MAX_HOLD_SECONDS", 0.01)
    delivered: list[int] = []
    fan = FanOut(lambda event: delivered.append(event.data["n"]))
    with fanout.holding():
        fan.receive(_event(1))
    await asyncio.sleep(0.05)
    assert delivered == [1]


async def test_a_failing_delivery_does_not_stop_the_events_behind_it() -> None:
    delivered: list[int] = []

    def deliver(event: Event) -> None:
        if event.data["n"] == 1:
            raise RuntimeError("boom")
        delivered.append(event.data["n"])

    fan = FanOut(deliver)
    with fanout.holding() as hold:
        fan.receive(_event(1))
        fan.receive(_event(2))
    hold.release()
    assert delivered == [2]


async def test_the_call_next_answer_is_written_before_the_queue_hears_of_it(
    app: FastAPI,
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    frozen_clock: FrozenClock,
) -> None:
    """The doctor's answer must not wait for the fan-out to every waiting patient: the
    event reaches this process's followers only after the response body was sent."""
    clinic = QueueClinic(client, accounts, runtime)
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    assert (await clinic.walk_in(desk, doctor, "+254700000301")).status_code == 201
    order: list[str] = []
    clinic.runtime.hub.tap(
        lambda event: order.append(event.type) if event.type == "queue.updated" else None
    )
    scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": f"/api/queue/{doctor.id}/call-next",
        "raw_path": f"/api/queue/{doctor.id}/call-next".encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.lower().encode(), value.encode()) for name, value in doctor_headers.items()
        ]
        + [(b"host", b"testserver")],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }
    status: list[int] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])
        elif message["type"] == "http.response.body" and not message.get("more_body"):
            order.append("answer")

    await app(scope, receive, send)
    assert status == [200]
    assert order == ["answer", "queue.updated"]

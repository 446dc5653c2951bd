"""A flood of `call` frames is refused past the sender's budget, over the real socket: the
burst of candidates a call starts with gets through, the rest gets the protocol's error
frame, and the budget is each person's, per consultation, per window."""

from __future__ import annotations

from typing import Any

from clinicflow.config import Settings
from clinicflow.core.clock import FrozenClock
from tests.calls.test_signalling import call, joined, reply, video
from tests.consultations.clinic import Clinic
from tests.realtime.conftest import Server, Socket

FLOOD = 300


async def ice_burst(socket: Socket, topic: str, call_id: str, count: int) -> list[dict[str, Any]]:
    """Send `count` candidates without waiting, then read their `count` replies in order."""
    for number in range(count):
        await socket.send(
            op="call",
            topic=topic,
            type="ice",
            call_id=call_id,
            client_id=f"ice-{number}",
            data={"candidate": {"candidate": f"candidate:{number}"}},
        )
    return [await socket.until(reply) for _ in range(count)]


async def test_a_flood_of_call_frames_is_refused_past_the_budget_and_a_burst_is_not(
    server: Server, clinic: Clinic, settings: Settings, frozen_clock: FrozenClock
) -> None:
    budget, window = settings.call_frames_per_window, settings.call_frame_window_seconds
    patient, doctor, consultation = await video(clinic)
    topic = f"consultation:{consultation.id}"
    doctor_socket = await joined(server, doctor, topic)
    patient_socket = await joined(server, patient, topic)
    call_id = (await call(doctor_socket, topic, "ring"))["call_id"]
    assert (await call(patient_socket, topic, "accept", call_id=call_id))["status"] == ("connected")

    # A call's start: 50 candidates at once all go through.
    burst = await ice_burst(doctor_socket, topic, call_id, 50)
    assert {frame["op"] for frame in burst} == {"called"}

    flood = await ice_burst(doctor_socket, topic, call_id, FLOOD)
    passed = [frame for frame in flood if frame["op"] == "called"]
    refused = [frame for frame in flood if frame["op"] == "error"]
    # The ring and the burst spent 51 of the window's budget.
    assert len(passed) == budget - 51
    assert len(refused) == FLOOD - len(passed)
    assert {frame["code"] for frame in refused} == {"rate_limited"}
    assert all(0 < frame["details"]["retry_after"] <= window for frame in refused)
    assert refused[0]["client_id"] == f"ice-{len(passed)}"
    assert refused[0]["topic"] == topic

    # Only what passed was relayed: the patient heard 50 + the passed candidates, no more.
    heard = 0
    while True:
        frame = await patient_socket.receive()
        if frame.get("type") == "call.ice":
            heard += 1
        if heard == 50 + len(passed):
            break
    assert await nothing_more(patient_socket) == 0

    # The other side's budget is its own: the patient still signals.
    answered = await call(patient_socket, topic, "answer", call_id=call_id, data={"sdp": {}})
    assert answered["op"] == "called"

    # The next window takes frames again.
    frozen_clock.advance(seconds=window)
    again = await call(doctor_socket, topic, "ice", call_id=call_id, data={"candidate": {}})
    assert again["op"] == "called"


async def nothing_more(socket: Socket) -> int:
    """How many more candidates arrive within a short wait."""
    extra = 0
    try:
        while True:
            frame = await socket.receive(wait=0.3)
            if frame.get("type") == "call.ice":
                extra += 1
    except TimeoutError:
        return extra

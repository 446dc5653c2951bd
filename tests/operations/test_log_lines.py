"""The operator's log lines of sockets and meeting links: a socket's opening and closing,
and a doctor's meeting-link change, each a line naming ids, never the link's room."""

from __future__ import annotations

import pytest
import structlog
from fastapi import FastAPI

from tests.queue.clinic import QueueClinic
from tests.realtime.conftest import connect, serving
from tests.realtime.test_hostile_sockets import eventually

pytestmark = pytest.mark.usefixtures("app")

MEET = "https://meet.google.com/abc-defg-hij"


async def test_a_socket_opening_and_closing_is_logged(app: FastAPI, clinic: QueueClinic) -> None:
    doctor, headers = await clinic.doctor()
    with structlog.testing.capture_logs() as logs:
        async with serving(app) as server:
            socket = await connect(server, headers=headers)
            await socket.send(op="ping")
            await socket.until(lambda frame: frame.get("op") == "pong")
            await socket.close()
            await eventually(
                lambda: any(line["event"] == "realtime.socket_closed" for line in logs), 5
            )
    [opened] = [line for line in logs if line["event"] == "realtime.socket_opened"]
    [closed] = [line for line in logs if line["event"] == "realtime.socket_closed"]
    assert opened["user_id"] == str(doctor.id)
    assert opened["role"] == "doctor"
    assert closed["connection"] == opened["connection"]


async def test_a_meeting_link_change_is_logged_without_the_room(clinic: QueueClinic) -> None:
    doctor, headers = await clinic.doctor()
    with structlog.testing.capture_logs() as logs:
        linked = await clinic.client.put(
            f"/api/doctors/{doctor.id}/meet-link", json={"meet_url": MEET}, headers=headers
        )
        assert linked.status_code == 200, linked.text
    [line] = [line for line in logs if line["event"] == "doctor.meet_link_changed"]
    assert line["actor_id"] == str(doctor.id)
    assert line["outcome"] == "success"
    # The room is the doctor's to hand out in turn; a log reader need not join it.
    assert "abc-defg-hij" not in repr(logs)

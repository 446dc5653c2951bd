"""The waiting room never contradicts itself (issue 18): one "Doctor away" notice per
absence and no estimate while the doctor is away; a pace that one short visit cannot drag
to "about 0 min"; the doctor's live meeting only for the called patient."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from clinicflow.core.clock import FrozenClock
from clinicflow.notifications.models import Notification
from clinicflow.notifications.schemas import Kind
from clinicflow.queue import service as queues
from clinicflow.queue.service import queue_state
from clinicflow.runtime import Runtime
from tests.queue.clinic import AFTERNOON, QueueClinic

MEET = "https://meet.google.com/abc-defg-hij"


async def _walk_ins(clinic: QueueClinic, count: int) -> tuple[Any, dict[str, str], dict[str, str]]:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    for n in range(count):
        assert (await clinic.walk_in(desk, doctor, f"+2547410000{n:02d}")).status_code == 201
    return doctor, doctor_headers, desk


async def _away_notices(runtime: Runtime) -> int:
    async with runtime.transaction(write=False) as session:
        count = await session.scalar(
            select(func.count())
            .select_from(Notification)
            .where(Notification.kind == Kind.doctor_away)
        )
    return int(count or 0)


async def test_one_away_notice_per_absence_and_no_estimate_while_away(
    clinic: QueueClinic, frozen_clock: FrozenClock, runtime: Runtime
) -> None:
    doctor, doctor_headers, desk = await _walk_ins(clinic, 3)
    day = date.fromisoformat((await clinic.queue(doctor, desk))["date"])
    here = {(doctor.id, day)}

    async def sweep(present: set[Any]) -> None:
        async with runtime.transaction() as session:
            await queues.mark_doctors_away(
                session=session, present=present, away_after=timedelta(minutes=2)
            )

    async def gone_for_three_minutes() -> None:
        await sweep(set())
        frozen_clock.advance(minutes=3)
        await sweep(set())

    await gone_for_three_minutes()
    queue = await clinic.queue(doctor, desk)
    assert queue["doctor_away"] is True
    assert await _away_notices(runtime) == 3
    # No minutes and no clock time while nobody keeps the pace.
    waiting = [e for e in queue["entries"] if e["status"] == "waiting"]
    assert [(e["estimated_wait_minutes"], e["estimated_at"]) for e in waiting] == [(None, None)] * 3

    # The doctor's page reloads, the phone's screen goes dark: back and away, three times.
    for _ in range(3):
        await sweep(here)
        assert (await clinic.queue(doctor, desk))["doctor_away"] is False
        await gone_for_three_minutes()
        assert (await clinic.queue(doctor, desk))["doctor_away"] is True
    assert await _away_notices(runtime) == 3

    # Back for real: estimates return; the doctor calls a patient, then leaves again. The
    # two still waiting are told once about this new absence.
    await sweep(here)
    queue = await clinic.queue(doctor, desk)
    assert [e["estimated_wait_minutes"] for e in queue["entries"] if e["status"] == "waiting"] == [
        0,
        15,
        30,
    ]
    assert (await clinic.act(doctor_headers, f"{doctor.id}/call-next")).status_code == 200
    await gone_for_three_minutes()
    await sweep(here)
    await gone_for_three_minutes()
    assert await _away_notices(runtime) == 5


@given(
    durations=st.lists(st.floats(min_value=0, max_value=4 * 3600), max_size=25),
    typical=st.floats(min_value=0, max_value=120),
)
def test_the_pace_needs_three_visits_and_never_drops_below_the_floor(
    durations: list[float], typical: float
) -> None:
    minutes = queue_state.visit_minutes(durations, typical_minutes=typical)
    assert minutes >= queue_state.FLOOR_MINUTES
    if len(durations) < queue_state.MIN_FINISHED_VISITS:
        assert minutes == max(queue_state.FLOOR_MINUTES, typical)
    else:
        mean = sum(durations) / len(durations) / 60
        assert minutes == max(queue_state.FLOOR_MINUTES, mean)
    assert queue_state.visit_minutes([]) == queue_state.DEFAULT_TYPICAL_MINUTES


async def test_one_short_visit_does_not_make_every_estimate_zero(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers, desk = await _walk_ins(clinic, 6)

    async def short_visit() -> None:
        called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
        assert called.status_code == 200, called.text
        frozen_clock.advance(seconds=24)
        finished = await clinic.act(doctor_headers, f"entries/{called.json()['id']}/finish")
        assert finished.status_code == 200, finished.text

    await short_visit()
    queue = await clinic.queue(doctor, desk)
    # One 24-second visit: the doctor's usual 15 minutes stand.
    assert queue["average_minutes"] == 15
    assert [e["estimated_wait_minutes"] for e in queue["entries"] if e["status"] == "waiting"][
        1
    ] == 15
    await short_visit()
    await short_visit()
    queue = await clinic.queue(doctor, desk)
    # Three of them make a pace, and the floor keeps it at 3 minutes.
    assert queue["average_minutes"] == queue_state.FLOOR_MINUTES
    assert [e["estimated_wait_minutes"] for e in queue["entries"] if e["status"] == "waiting"] == [
        0,
        3,
        6,
    ]


def _config(html: str) -> Any:
    match = re.search(r'<script type="application/json">(.*?)</script>', html, re.S)
    assert match
    return json.loads(match.group(1))


async def test_the_meeting_link_reaches_only_the_called_patient(
    clinic: QueueClinic, frozen_clock: FrozenClock
) -> None:
    doctor, doctor_headers = await clinic.doctor()
    desk = await clinic.front_desk()
    linked = await clinic.client.put(
        f"/api/doctors/{doctor.id}/meet-link", json={"meet_url": MEET}, headers=doctor_headers
    )
    assert linked.status_code == 200, linked.text
    _first, first_headers, _entry = await clinic.booked_and_checked_in(
        desk, doctor, AFTERNOON[2], mode="online"
    )
    _second, second_headers, _entry = await clinic.booked_and_checked_in(
        desk, doctor, AFTERNOON[3], mode="online"
    )
    called = await clinic.act(doctor_headers, f"{doctor.id}/call-next")
    assert called.status_code == 200, called.text

    # The second patient is next (within the first 10) while the first is with the doctor:
    # neither their page nor their API answer holds the doctor's live room.
    waiting_page = await clinic.client.get("/queue", headers=second_headers)
    assert waiting_page.status_code == 200
    [place] = _config(waiting_page.text)["places"]
    assert (place["status"], place["position"], place["meet_url"]) == ("waiting", 0, None)
    assert MEET not in waiting_page.text
    mine = (await clinic.client.get("/api/queue/me", headers=second_headers)).json()
    assert mine[0]["meet_url"] is None

    # The called patient has it.
    called_page = await clinic.client.get("/queue", headers=first_headers)
    [place] = _config(called_page.text)["places"]
    assert (place["status"], place["meet_url"]) == ("in_consultation", MEET)

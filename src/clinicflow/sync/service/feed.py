"""The change feed: what the caller may see, as differences from what their cursor held.

What a person may see is read through the owning domains' own verbs (the same ones the
pages use), so the feed can never show more than the pages: a patient gets their own
appointments from today on, their places in today's queues, their notifications and their
latest prescription (read as their record is, so each pull that carries it is audited); the
front desk every active doctor's queue of today and the clinic's appointments of today; a
doctor their own queue and appointments of today. Each item carries a fingerprint of its
data; the cursor row remembers the fingerprints a client was last given, so the next pull
answers exactly what was added, changed or has gone (`delete`), whatever committed in
between and in whatever order.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity
from clinicflow.notifications import service as notifications
from clinicflow.notifications.schemas import NotificationOut
from clinicflow.queue import service as queues
from clinicflow.records import service as records
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.schemas import AppointmentView
from clinicflow.sync import access
from clinicflow.sync.models import Cursor
from clinicflow.sync.schemas import ChangeOut, ChangesOut, ItemType

# A pull answers at most this many changes; `more` says to pull again at once.
PAGE = 200
# A patient's list of appointments from today on: far more than the clinic lets them hold.
PATIENT_APPOINTMENTS = 100
# A cursor unused for this long is forgotten; its client starts again from nothing (410).
CURSOR_DAYS = 30


@dataclass(frozen=True)
class Item:
    type: ItemType
    id: str
    version: int
    data: dict[str, Any]

    @property
    def key(self) -> str:
        return f"{self.type.value}:{self.id}"

    @property
    def fingerprint(self) -> str:
        text = json.dumps(self.data, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(f"{self.version}|{text}".encode()).hexdigest()[:20]


async def visible(
    session: AsyncSession, actor: Actor, zone: ZoneInfo, public_url: str
) -> dict[str, Item]:
    """Everything the actor may keep on their device now, by "type:id"."""
    items: list[Item] = []
    items += await _appointments(session, actor, zone)
    if access.follows_queues(actor):
        items += await _queues(session, actor)
    else:
        items += await _my_places(session, actor)
        items += await _last_prescription(session, actor, public_url)
    items += await _notifications(session, actor)
    return {item.key: item for item in items}


async def _appointments(session: AsyncSession, actor: Actor, zone: ZoneInfo) -> list[Item]:
    if access.follows_queues(actor):
        views = await scheduling.appointments_today(session=session, actor=actor, zone=zone)
    else:
        start = datetime.combine(clock.now().astimezone(zone).date(), time(), tzinfo=zone)
        rows, _next = await scheduling.list_appointments(
            session=session, actor=actor, start=start, limit=PATIENT_APPOINTMENTS
        )
        views = [AppointmentView.model_validate(row) for row in rows]
    names = await identity.names(
        session, {a.doctor_id for a in views} | {a.patient_id for a in views}
    )
    items = []
    for view in views:
        data = view.model_dump(mode="json")
        data["doctor_name"] = names.get(view.doctor_id)
        data["patient_name"] = names.get(view.patient_id)
        items.append(Item(ItemType.appointment, str(view.id), view.version, data))
    return items


async def _queues(session: AsyncSession, actor: Actor) -> list[Item]:
    """The whole queue of today of each doctor the actor runs: every doctor's at the desk,
    their own for a doctor."""
    doctors = {d.id: d.name for d in await identity.search_doctors(session)}
    items = []
    for doctor_id, doctor_name in doctors.items():
        if not access.runs_queue(actor, doctor_id):
            continue
        current, entries = await queues.queue_for(
            session=session, actor=actor, doctor_id=doctor_id, day=None
        )
        names = await queues.visible_names(session, actor, doctor_id, entries)
        out = queues.queue_out(current, entries, names)
        key = f"{out.doctor_id}:{out.date.isoformat()}"
        data = out.model_dump(mode="json") | {"doctor_name": doctor_name}
        items.append(Item(ItemType.queue, key, out.revision, data))
    return items


async def _my_places(session: AsyncSession, actor: Actor) -> list[Item]:
    places = await queues.my_places(session=session, actor=actor)
    # The estimate's instant is recomputed on every read; the minutes carry the news.
    return [
        Item(
            ItemType.queue_entry,
            str(place.id),
            1,
            place.model_dump(mode="json", exclude={"estimated_at"}),
        )
        for place in places
    ]


async def _last_prescription(session: AsyncSession, actor: Actor, public_url: str) -> list[Item]:
    """The prescription the patient's home shows: one issued since replaces it on the
    device (an upsert of the new, a delete of the old)."""
    latest = await records.last_prescription(session=session, actor=actor, public_url=public_url)
    if latest is None:
        return []
    return [Item(ItemType.prescription, str(latest.id), 1, latest.model_dump(mode="json"))]


async def _notifications(session: AsyncSession, actor: Actor) -> list[Item]:
    rows, _unread = await notifications.list_for(session=session, actor=actor)
    items = []
    for row in rows:
        out = NotificationOut.model_validate(row)
        version = 1 if out.read_at is None else 2
        items.append(Item(ItemType.notification, str(out.id), version, out.model_dump(mode="json")))
    return items


async def changes(
    *, session: AsyncSession, actor: Actor, zone: ZoneInfo, public_url: str, since: str | None
) -> ChangesOut:
    """What changed for the actor since the cursor `since` (everything when None), at most
    `PAGE` changes at a time, and the cursor to pull from next."""
    held = await _held(session, actor, since)
    now = await visible(session, actor, zone, public_url)
    found: list[ChangeOut] = []
    for key in sorted(now.keys() | held.keys()):
        item = now.get(key)
        if item is None:
            kind, _sep, item_id = key.partition(":")
            found.append(
                ChangeOut(type=ItemType(kind), id=item_id, op="delete", version=0, data=None)
            )
        elif held.get(key) != item.fingerprint:
            found.append(
                ChangeOut(
                    type=item.type, id=item.id, op="upsert", version=item.version, data=item.data
                )
            )
    page, more = found[:PAGE], len(found) > PAGE
    for change in page:
        key = f"{change.type.value}:{change.id}"
        if change.op == "delete":
            held.pop(key, None)
        else:
            held[key] = now[key].fingerprint
    cursor = await _remember(session, actor, held)
    return ChangesOut(changes=page, cursor=cursor, more=more)


async def _held(session: AsyncSession, actor: Actor, since: str | None) -> dict[str, str]:
    """What the client held at `since`: a cursor of another person, or one forgotten, is
    refused alike (410), so the client drops its copy and pulls from the start."""
    if since is None:
        return {}
    row = await session.get(Cursor, since)
    if row is None or row.user_id != actor.id:
        raise AppError(
            ErrorCode.cursor_expired,
            _("This copy is too old to bring up to date; it is fetched again in full."),
        )
    return dict(row.seen)


async def _remember(session: AsyncSession, actor: Actor, seen: dict[str, str]) -> str:
    """The cursor naming `seen`; stored only when new, so a quiet pull writes nothing."""
    text = json.dumps(seen, sort_keys=True, separators=(",", ":"))
    cursor_id = hashlib.sha256(f"{actor.id}|{text}".encode()).hexdigest()
    if await session.get(Cursor, cursor_id) is not None:
        return cursor_id
    now = clock.now()
    await session.execute(
        delete(Cursor).where(
            Cursor.user_id == actor.id, Cursor.created_at < now - timedelta(days=CURSOR_DAYS)
        )
    )
    try:
        async with session.begin_nested():
            session.add(Cursor(id=cursor_id, user_id=actor.id, seen=seen, created_at=now))
            await session.flush()
    except IntegrityError:
        # The same person's other tab pulled the same state at the same moment.
        pass
    return cursor_id

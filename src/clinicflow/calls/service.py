"""The rules of calls: starting, answering, declining and ending one, relaying its
signalling between the consultation's two participants, its history, and the ICE servers
a browser needs to reach the other side.

A call's lifecycle is the table below, applied by `_move` with a conditional UPDATE, so two
tabs answering at once (or an answer racing a hang-up) cannot both win. Every relayed
frame becomes one event on the consultation's topic, narrowed to the other participant
(`Event.to`) and published after the commit, so an admin who follows the topic sees none.

A call never outlives its consultation: when the consultation ends, `end_with_consultation`
(run by consultations' closing hooks, in that transaction) hangs up whatever still rings or
is connected and tells both people. A ring nobody answers within `RING_TIMEOUT` (a tab
that crashed while ringing) counts as missed from then on: every read shows it missed and
no frame can answer it, and the next write that touches it (a new ring, the
consultation's end) stores it so.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow import realtime
from clinicflow.calls import access, livekit
from clinicflow.calls.models import Call
from clinicflow.calls.schemas import (
    LIVE,
    CallKind,
    CallOut,
    CallStatus,
    IceServer,
    IceServers,
    LiveKitJoin,
    Media,
    Signal,
)
from clinicflow.config import Settings
from clinicflow.consultations import service as consultations
from clinicflow.core import clock
from clinicflow.core.audit import Actor
from clinicflow.core.errors import AppError, ErrorCode, not_found
from clinicflow.i18n import gettext as _
from clinicflow.identity import service as identity

S = CallStatus
# How long a ring may go unanswered before it counts as missed: longer than the page's own
# give-up (45 s in call.js), so a page that is still there always ends its own ring.
RING_TIMEOUT = timedelta(seconds=60)


@dataclass(frozen=True)
class Move:
    """One transition: the statuses it leaves, where it goes, and whether only the person
    called (not the caller) may make it."""

    source: frozenset[CallStatus]
    target: CallStatus
    callee_only: bool


TRANSITIONS: dict[Signal, Move] = {
    Signal.accept: Move(frozenset({S.ringing}), S.connected, callee_only=True),
    Signal.decline: Move(frozenset({S.ringing}), S.declined, callee_only=True),
    Signal.busy: Move(frozenset({S.ringing}), S.declined, callee_only=True),
    # Hanging up a call nobody answered leaves it missed; `_move` picks that.
    Signal.end: Move(frozenset({S.ringing, S.connected}), S.ended, callee_only=False),
}
# Frames that only travel: the session description and the network candidates.
RELAYED = frozenset({Signal.offer, Signal.answer, Signal.ice})


def call_out(call: Call) -> CallOut:
    """The call as it stands now: a ring past `RING_TIMEOUT` reads as missed, ended then."""
    status, ended_at = call.status, call.ended_at
    if _rang_out(call, clock.now()):
        status, ended_at = S.missed, call.started_at + RING_TIMEOUT
    return CallOut(
        id=call.id,
        kind=call.kind,
        status=status,
        started_by=call.started_by,
        started_at=call.started_at,
        answered_at=call.answered_at,
        ended_at=ended_at,
        duration_seconds=call.duration_seconds,
    )


def _rang_out(call: Call, now: datetime) -> bool:
    return call.status is S.ringing and now >= call.started_at + RING_TIMEOUT


async def history(
    *, session: AsyncSession, actor: Actor, consultation_id: uuid.UUID
) -> list[CallOut]:
    """Every call of the consultation, oldest first, for whoever reads the consultation."""
    await access.get_call_history_for(session, actor, consultation_id)
    return (await calls_of(session, [consultation_id])).get(consultation_id, [])


async def calls_of(
    session: AsyncSession, consultation_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[CallOut]]:
    """The calls of these consultations, oldest first, in one query, for a domain above
    that has decided who reads them (the record lists each visit's calls)."""
    found: dict[uuid.UUID, list[CallOut]] = {}
    if not consultation_ids:
        return found
    calls = await session.scalars(
        select(Call)
        .where(Call.consultation_id.in_(list(consultation_ids)))
        .order_by(Call.started_at, Call.id)
    )
    for call in calls:
        found.setdefault(call.consultation_id, []).append(call_out(call))
    return found


async def end_with_consultation(
    session: AsyncSession, *, actor: Actor, consultation: access.Encounter
) -> None:
    """The consultation is over (`actor` ended it): hang up its ringing and connected calls
    in the same transaction, and send both people `call.end` once it commits, so their
    pages hang up. Registered as one of consultations' closing hooks by the runtime."""
    live = await session.scalars(
        select(Call)
        .where(Call.consultation_id == consultation.id, Call.status.in_(LIVE))
        .with_for_update()
    )
    now = clock.now()
    for call in live:
        _finish(call, now)
        ended = {"status": call.status.value, "duration_seconds": call.duration_seconds}
        for person in (consultation.patient_id, consultation.doctor_id):
            _relay(session, consultation.id, actor, person, Signal.end, call, ended)
    await session.flush()


async def signal(
    *,
    session: AsyncSession,
    actor: Actor,
    consultation_id: uuid.UUID,
    kind: Signal,
    call_id: uuid.UUID | None,
    data: Mapping[str, Any],
    media: Media = "p2p",
) -> CallOut:
    """Handle one signalling frame from a participant and relay it to the other one as
    `call.<kind>`; answers the call as it stands after the frame. A ring tells the other
    side where the media will go (`media`: peer to peer, or a LiveKit room)."""
    if kind is Signal.end:
        consultation = await access.get_hangable_for(session, actor, consultation_id)
    else:
        writes = kind is Signal.ring or kind in TRANSITIONS
        consultation = await access.get_callable_for(session, actor, consultation_id, lock=writes)
    other = (
        consultation.doctor_id if actor.id == consultation.patient_id else consultation.patient_id
    )
    if kind is Signal.ring:
        call = await _ring(session, actor, consultation, other, data)
        extra: dict[str, Any] = {"kind": call.kind.value, "media": media}
    else:
        call = await _live_call(session, consultation_id, call_id)
        if kind in TRANSITIONS:
            await _move(session, actor, call, kind)
            extra = {"status": call.status.value, "duration_seconds": call.duration_seconds}
        else:
            extra = {}
    _relay(session, consultation_id, actor, other, kind, call, {**data, **extra})
    return call_out(call)


async def _ring(
    session: AsyncSession,
    actor: Actor,
    consultation: access.Encounter,
    other: uuid.UUID,
    data: Mapping[str, Any],
) -> Call:
    """Start a call. A call still live in this consultation (a page reloaded mid-call, or
    both sides ringing at once) is ended by the new one, so a stale row never blocks."""
    kind = _kind(data.get("kind"), consultation)
    now = clock.now()
    live = await session.scalars(
        select(Call).where(Call.consultation_id == consultation.id, Call.status.in_(LIVE))
    )
    for stale in live:
        _finish(stale, now)
        _relay(
            session,
            consultation.id,
            actor,
            other,
            Signal.end,
            stale,
            {"status": stale.status.value},
        )
    call = Call(
        consultation_id=consultation.id,
        started_by=actor.id,
        kind=kind,
        status=S.ringing,
        started_at=now,
    )
    session.add(call)
    await session.flush()
    return call


def _kind(value: object, consultation: access.Encounter) -> CallKind:
    allowed = access.kinds_allowed(consultation)
    if value is None:
        return max(allowed)  # video where it is allowed, else audio
    try:
        kind = CallKind(str(value))
    except ValueError:
        kind = None
    if kind not in allowed:
        raise AppError(
            ErrorCode.validation_error,
            _("This consultation allows these calls: %(kinds)s.")
            % {"kinds": ", ".join(sorted(allowed))},
            {"field": "kind"},
        )
    return kind


async def _live_call(
    session: AsyncSession, consultation_id: uuid.UUID, call_id: uuid.UUID | None
) -> Call:
    call = None if call_id is None else await session.get(Call, call_id, populate_existing=True)
    if call is None or call.consultation_id != consultation_id:
        raise not_found()
    if call.status not in LIVE or _rang_out(call, clock.now()):
        raise _call_over(call)
    return call


def _call_over(call: Call) -> AppError:
    return AppError(
        ErrorCode.invalid_transition,
        _("This call has already ended."),
        {"call_id": str(call.id), "status": call_out(call).status.value},
    )


async def _move(session: AsyncSession, actor: Actor, call: Call, kind: Signal) -> None:
    """Apply one transition with an UPDATE conditional on the status read, so of two
    concurrent moves exactly one lands and the other is told the call moved on."""
    move = TRANSITIONS[kind]
    if move.callee_only and actor.id == call.started_by:
        raise AppError(
            ErrorCode.forbidden,
            _("Only the person called can answer or decline."),
            {"call_id": str(call.id)},
        )
    if call.status not in move.source:
        raise _call_over(call)
    before = call.status
    now = clock.now()
    if kind is Signal.accept:
        values: dict[str, Any] = {"status": S.connected, "answered_at": now}
    else:
        values = _ending(call, move.target, now)
    landed = await session.execute(
        update(Call)
        .where(Call.id == call.id, Call.status == before)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if landed.rowcount != 1:  # type: ignore[attr-defined]
        raise _call_over(call)
    for name, value in values.items():
        setattr(call, name, value)


def _ending(call: Call, target: CallStatus, now: datetime) -> dict[str, Any]:
    if call.answered_at is None:
        status = target if target is S.declined else S.missed
        # A ring that ran out ended when it did, not when someone noticed.
        return {"status": status, "ended_at": min(now, call.started_at + RING_TIMEOUT)}
    seconds = max(0, int((now - call.answered_at).total_seconds()))
    return {"status": target, "ended_at": now, "duration_seconds": seconds}


def _finish(call: Call, now: datetime) -> None:
    for name, value in _ending(call, S.ended, now).items():
        setattr(call, name, value)


def _relay(
    session: AsyncSession,
    consultation_id: uuid.UUID,
    actor: Actor,
    to: uuid.UUID,
    kind: Signal,
    call: Call,
    data: Mapping[str, Any],
) -> None:
    payload = {**data, "call_id": str(call.id), "from_user_id": str(actor.id)}
    event = realtime.Event(
        topic=consultations.topic(consultation_id),
        type=f"call.{kind.value}",
        data=payload,
        to=str(to),
    )
    realtime.publish_on_commit(session, event)


async def livekit_join(
    *,
    session: AsyncSession,
    settings: Settings,
    actor: Actor,
    consultation_id: uuid.UUID,
    call_id: uuid.UUID,
) -> LiveKitJoin:
    """Where and how a participant joins a live call's LiveKit room (not-found when the
    clinic has no LiveKit: its calls are peer to peer)."""
    await access.get_callable_for(session, actor, consultation_id)
    if not livekit.enabled(settings) or settings.livekit_url is None:
        raise not_found()
    call = await _live_call(session, consultation_id, call_id)
    names = await identity.names(session, [actor.id])
    token = livekit.mint_token(
        settings=settings, call_id=call.id, user_id=actor.id, name=names.get(actor.id, "")
    )
    return LiveKitJoin(url=settings.livekit_url, room=livekit.room_name(call.id), token=token)


def ice_servers(*, settings: Settings, actor: Actor) -> IceServers:
    """The STUN and TURN servers for this person's browser. With `turn_secret`, the TURN
    entry carries credentials minted now for them alone (coturn's REST scheme), valid for
    `turn_ttl_seconds`; a leaked one expires on its own."""
    access.require_caller_role(actor)
    servers = [IceServer(urls=list(settings.stun_urls))] if settings.stun_urls else []
    ttl: int | None = None
    if settings.turn_urls:
        username: str | None
        credential: str | None
        if settings.turn_secret:
            ttl = settings.turn_ttl_seconds
            username, credential = turn_credentials(
                secret=settings.turn_secret, user_id=actor.id, ttl_seconds=ttl, now=clock.now()
            )
        else:
            username, credential = settings.turn_username, settings.turn_password
        servers.append(
            IceServer(urls=list(settings.turn_urls), username=username, credential=credential)
        )
    return IceServers(ice_servers=servers, ttl_seconds=ttl)


def turn_credentials(
    *, secret: str, user_id: uuid.UUID, ttl_seconds: int, now: datetime
) -> tuple[str, str]:
    """coturn's TURN REST credentials (`use-auth-secret`): the username is
    "<expiry unix time>:<user id>" and the password base64(HMAC-SHA1(secret, username)),
    so coturn checks them with the shared secret alone and refuses them after the expiry."""
    expiry = int(now.timestamp()) + ttl_seconds
    username = f"{expiry}:{user_id}"
    digest = hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()
    return username, base64.b64encode(digest).decode()

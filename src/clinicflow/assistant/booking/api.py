"""HTTP routes of booking by conversation (names fixed by issue 23): start a conversation,
say something in it, leave it (releasing any hold), and re-check its offers when the
availability topic says a time was taken."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response, status

from clinicflow.assistant import schemas
from clinicflow.assistant.providers import build_booking_reader
from clinicflow.assistant.service import booking
from clinicflow.deps import CurrentUser, Session, SettingsDep
from clinicflow.routing import TransactionalRoute

router = APIRouter(
    prefix="/api/booking-assistant/conversations",
    route_class=TransactionalRoute,
    tags=["booking assistant"],
)


def _turn(turn: booking.Turn) -> schemas.TurnOut:
    return schemas.TurnOut(
        reply=turn.reply,
        offers=[
            schemas.OfferOut(
                doctor_id=o.doctor_id, doctor_name=o.doctor_name, starts_at=o.starts_at
            )
            for o in turn.offers
        ],
        hold=schemas.HoldOut(id=turn.hold[0], expires_at=turn.hold[1]) if turn.hold else None,
        appointment=schemas.BookedOut(id=turn.appointment[0], starts_at=turn.appointment[1])
        if turn.appointment
        else None,
    )


@router.post("", status_code=status.HTTP_201_CREATED)
async def start(session: Session, user: CurrentUser) -> schemas.ConversationOut:
    """A new conversation (patients only, booking for themselves)."""
    return schemas.ConversationOut(id=await booking.start_conversation(session=session, actor=user))


@router.post("/{conversation_id}/messages")
async def say(
    conversation_id: uuid.UUID,
    body: schemas.BookingMessageIn,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.TurnOut:
    """Write to the assistant; it answers with words, the times on offer, the hold it keeps
    and the appointment once booked."""
    return _turn(
        await booking.say(
            session=session,
            settings=settings,
            actor=user,
            conversation_id=conversation_id,
            text=body.text,
            reader=build_booking_reader(settings),
        )
    )


@router.post("/{conversation_id}/refresh")
async def refresh(
    conversation_id: uuid.UUID, session: Session, settings: SettingsDep, user: CurrentUser
) -> schemas.TurnOut:
    """Re-check the offers: a time taken meanwhile is withdrawn with an apology and a new offer."""
    return _turn(
        await booking.refresh(
            session=session, settings=settings, actor=user, conversation_id=conversation_id
        )
    )


@router.delete("/{conversation_id}", status_code=status.HTTP_204_NO_CONTENT)
async def leave(
    conversation_id: uuid.UUID, session: Session, settings: SettingsDep, user: CurrentUser
) -> Response:
    """Leave the conversation: any hold is released."""
    await booking.end_conversation(
        session=session, settings=settings, actor=user, conversation_id=conversation_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)

"""HTTP routes of scheduling: thin translations between JSON and the service."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Path, Query, Response, status

from clinicflow.deps import Clinic, CurrentUser, Session, SettingsDep, throttled
from clinicflow.identity import service as identity
from clinicflow.identity.schemas import SearchText
from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling import schemas
from clinicflow.scheduling import service as scheduling
from clinicflow.scheduling.models import Availability
from clinicflow.scheduling.schemas import AppointmentStatus

router = APIRouter(prefix="/api", route_class=TransactionalRoute, tags=["scheduling"])
feeds = APIRouter(route_class=TransactionalRoute, tags=["scheduling"])
ICS = "text/calendar; charset=utf-8"


def _availability(row: Availability) -> schemas.AvailabilityOut:
    return schemas.AvailabilityOut(
        doctor_id=row.doctor_id,
        timezone=row.timezone,
        slot_minutes=row.slot_minutes,
        weekly={day: [(a, b) for a, b in pairs] for day, pairs in row.weekly.items()},
        exceptions=[schemas.ExceptionDay.model_validate(item) for item in row.exceptions],
    )


@router.get("/doctors")
async def list_doctors(session: Session, q: SearchText | None = None) -> list[schemas.DoctorOut]:
    # The directory as the process holds it: every booking screen asks for it.
    doctors = await identity.held_doctors(session, q)
    return [
        schemas.DoctorOut(
            id=d.id,
            name=d.name,
            specialty=d.doctor.specialty,
            bio=d.doctor.bio,
            timezone=d.doctor.timezone,
            consultation_minutes=d.doctor.consultation_minutes,
        )
        for d in doctors
        if d.doctor is not None
    ]


@router.get("/doctors/{doctor_id}")
async def get_doctor(doctor_id: uuid.UUID, session: Session) -> schemas.DoctorOut:
    doctor = await identity.get_doctor(session, doctor_id)
    assert doctor.doctor is not None
    return schemas.DoctorOut(
        id=doctor.id,
        name=doctor.name,
        specialty=doctor.doctor.specialty,
        bio=doctor.doctor.bio,
        timezone=doctor.doctor.timezone,
        consultation_minutes=doctor.doctor.consultation_minutes,
    )


@router.get("/doctors/{doctor_id}/availability")
async def get_availability(doctor_id: uuid.UUID, session: Session) -> schemas.AvailabilityOut:
    return _availability(await scheduling.get_availability(session=session, doctor_id=doctor_id))


@router.put("/doctors/{doctor_id}/availability")
async def put_availability(
    doctor_id: uuid.UUID, body: schemas.AvailabilityIn, session: Session, user: CurrentUser
) -> schemas.AvailabilityOut:
    row = await scheduling.set_availability(
        session=session,
        actor=user,
        doctor_id=doctor_id,
        timezone=body.timezone,
        slot_minutes=body.slot_minutes,
        weekly={day: list(pairs) for day, pairs in body.weekly.items()},
        exceptions=[item.model_dump() for item in body.exceptions],
    )
    return _availability(row)


@router.get("/doctors/{doctor_id}/slots")
async def get_slots(
    doctor_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    start: Annotated[schemas.Instant, Query(alias="from")],
    end: Annotated[schemas.Instant, Query(alias="to")],
) -> schemas.SlotsOut:
    timezone, free = await scheduling.free_slots(
        session=session, settings=settings, doctor_id=doctor_id, start=start, end=end
    )
    return schemas.SlotsOut(
        timezone=timezone, slots=[schemas.SlotOut(starts_at=a, ends_at=b) for a, b in free]
    )


@router.post("/holds", status_code=status.HTTP_201_CREATED, dependencies=[throttled("holds")])
async def create_hold(
    body: schemas.HoldIn, session: Session, settings: SettingsDep, user: CurrentUser
) -> schemas.HoldOut:
    hold = await scheduling.hold_slot(
        session=session,
        settings=settings,
        actor=user,
        doctor_id=body.doctor_id,
        starts_at=body.starts_at,
        patient_id=body.patient_id,
    )
    return schemas.HoldOut.model_validate(hold)


@router.delete("/holds/{hold_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_hold(
    hold_id: uuid.UUID, session: Session, settings: SettingsDep, user: CurrentUser
) -> Response:
    await scheduling.release_hold(session=session, settings=settings, actor=user, hold_id=hold_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/appointments", status_code=status.HTTP_201_CREATED)
async def create_appointment(
    body: schemas.AppointmentIn,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.AppointmentOut:
    appointment = await scheduling.book(
        session=session,
        settings=settings,
        actor=user,
        doctor_id=body.doctor_id,
        starts_at=body.starts_at,
        mode=body.mode,
        reason=body.reason,
        patient_id=body.patient_id,
    )
    return schemas.AppointmentOut.model_validate(appointment)


@router.get("/appointments")
async def list_appointments(
    session: Session,
    user: CurrentUser,
    status_filter: Annotated[AppointmentStatus | None, Query(alias="status")] = None,
    start: Annotated[schemas.Instant | None, Query(alias="from")] = None,
    end: Annotated[schemas.Instant | None, Query(alias="to")] = None,
    doctor_id: uuid.UUID | None = None,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> schemas.AppointmentPage:
    items, next_cursor = await scheduling.list_appointments(
        session=session,
        actor=user,
        status=status_filter,
        start=start,
        end=end,
        doctor_id=doctor_id,
        cursor=cursor,
        limit=limit,
    )
    return schemas.AppointmentPage(
        items=[schemas.AppointmentOut.model_validate(a) for a in items], next_cursor=next_cursor
    )


@router.get("/appointments/{appointment_id}.ics", response_class=Response)
async def appointment_calendar_file(
    appointment_id: uuid.UUID, session: Session, user: CurrentUser
) -> Response:
    body = await scheduling.appointment_ics(
        session=session, actor=user, appointment_id=appointment_id
    )
    return Response(
        body,
        media_type=ICS,
        headers={"Content-Disposition": f'attachment; filename="appointment-{appointment_id}.ics"'},
    )


@router.get("/appointments/{appointment_id}")
async def get_appointment(
    appointment_id: uuid.UUID, session: Session, user: CurrentUser
) -> schemas.AppointmentOut:
    appointment = await scheduling.get_appointment(
        session=session, actor=user, appointment_id=appointment_id
    )
    return schemas.AppointmentOut.model_validate(appointment)


@router.post("/appointments/{appointment_id}/cancel")
async def cancel_appointment(
    appointment_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.AppointmentOut:
    appointment = await scheduling.cancel(
        session=session,
        settings=settings,
        actor=user,
        appointment_id=appointment_id,
    )
    return schemas.AppointmentOut.model_validate(appointment)


@router.post("/appointments/{appointment_id}/reschedule")
async def reschedule_appointment(
    appointment_id: uuid.UUID,
    body: schemas.RescheduleIn,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.AppointmentOut:
    appointment = await scheduling.reschedule(
        session=session,
        settings=settings,
        actor=user,
        appointment_id=appointment_id,
        starts_at=body.starts_at,
    )
    return schemas.AppointmentOut.model_validate(appointment)


def _waiting(item: scheduling.Waiting) -> schemas.WaitlistEntryOut:
    entry, held = item.entry, item.held
    return schemas.WaitlistEntryOut(
        id=entry.id,
        doctor_id=entry.doctor_id,
        patient_id=entry.patient_id,
        first_day=entry.first_day,
        last_day=entry.last_day,
        status=entry.status,
        created_at=entry.created_at,
        offer=schemas.OfferOut(
            hold_id=held.id,
            starts_at=held.starts_at,
            ends_at=held.ends_at,
            expires_at=held.expires_at,
        )
        if held is not None
        else None,
    )


@router.post("/waitlist", status_code=status.HTTP_201_CREATED)
async def join_waitlist(
    body: schemas.WaitlistIn,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> schemas.WaitlistEntryOut:
    """Wait for a freed time with a doctor between two of the doctor's days (inclusive)."""
    entry = await scheduling.join_waitlist(
        session=session,
        settings=settings,
        actor=user,
        doctor_id=body.doctor_id,
        first_day=body.first_day,
        last_day=body.last_day,
    )
    return _waiting(scheduling.Waiting(entry, None))


@router.get("/waitlist")
async def my_waitlist(session: Session, user: CurrentUser) -> list[schemas.WaitlistEntryOut]:
    """The caller's waitlist places, each with the slot held for them while an offer lasts."""
    return [_waiting(item) for item in await scheduling.my_waitlist(session=session, actor=user)]


@router.delete("/waitlist/{entry_id}", status_code=status.HTTP_204_NO_CONTENT)
async def leave_waitlist(
    entry_id: uuid.UUID,
    session: Session,
    settings: SettingsDep,
    user: CurrentUser,
) -> Response:
    await scheduling.leave_waitlist(
        session=session, settings=settings, actor=user, entry_id=entry_id
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/calendar-feed", status_code=status.HTTP_201_CREATED)
async def create_calendar_feed(
    session: Session, clinic: Clinic, user: CurrentUser
) -> schemas.CalendarFeedOut:
    """A private URL a calendar app can subscribe to; asking again replaces (revokes) it."""
    token = await scheduling.create_calendar_feed(session=session, actor=user)
    return schemas.CalendarFeedOut(url=f"{clinic.public_url}/calendar/{token}.ics")


@router.delete("/calendar-feed", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_calendar_feed(session: Session, user: CurrentUser) -> Response:
    await scheduling.revoke_calendar_feed(session=session, actor=user)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@feeds.get("/calendar/{token}.ics", response_class=Response)
async def calendar_feed(token: Annotated[str, Path(max_length=100)], session: Session) -> Response:
    return Response(await scheduling.calendar_feed(session=session, token=token), media_type=ICS)

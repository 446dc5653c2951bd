"""What the booking assistant says: every sentence of its replies, in the reader's language
(the request's), with times on the clinic's clock in that language's manner (24-hour)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime

from clinicflow import i18n
from clinicflow.i18n import gettext as _


def when(at: datetime, zone: ZoneInfo) -> str:
    """`Tuesday 1 December, 09:30` (`Jumanne 1 Desemba, 09:30`)."""
    return format_datetime(
        at.astimezone(zone), "EEEE d MMMM, HH:mm", locale=i18n.current_language()
    )


def day(value: date) -> str:
    return format_date(value, "EEEE d MMMM", locale=i18n.current_language())


def clock_time(at: datetime, zone: ZoneInfo) -> str:
    return at.astimezone(zone).strftime("%H:%M")


def ask_what() -> str:
    return _(
        "What kind of doctor do you need, and when? For example: a skin doctor tomorrow morning."
    )


def offers(lines: Sequence[tuple[str, str]]) -> str:
    """The numbered offers, `(doctor, when)` each, and the question."""
    listed = "\n".join(
        f"{number}. {doctor}, {at}" for number, (doctor, at) in enumerate(lines, start=1)
    )
    return "\n".join(
        [
            _("These times are free:"),
            listed,
            _("Which one shall I hold for you? Answer with its number."),
        ]
    )


def taken() -> str:
    return _("Sorry, that time has just been taken by someone else.")


def gone() -> str:
    """A time that can no longer be had for another reason than someone taking it (it has
    begun, or the doctor's week changed): "taken by someone else" would be untrue."""
    return _("Sorry, that time is no longer free.")


def withdrawn() -> str:
    return _("Sorry, a time I offered has just been taken by someone else.")


def held(doctor: str, at: str, until: str) -> str:
    return _(
        "I am holding {time} with {doctor} for you until {until}. Shall I book it? "
        "Answer yes or no."
    ).format(time=at, doctor=doctor, until=until)


def booked(doctor: str, at: str) -> str:
    return _("Booked: {time} with {doctor}. It is in your appointments.").format(
        time=at, doctor=doctor
    )


def released() -> str:
    return _("All right, I have let that time go. Tell me another day or time.")


def lapsed(minutes: int) -> str:
    return _(
        "The time I held for you was released after {minutes} minutes without an answer."
    ).format(minutes=minutes)


def choose(count: int) -> str:
    return _("Answer with a number from 1 to {count}.").format(count=count)


def yes_or_no() -> str:
    return _("Answer yes to book it, or no to let it go.")


def nothing_free() -> str:
    return _("I found no free time then. Try other days or another part of the day.")


def offer_waitlist(doctor: str, first: str, last: str) -> str:
    return _(
        "Nothing is free with {doctor} then. Shall I put you on their waiting list from "
        "{first} to {last}? Answer yes or no."
    ).format(doctor=doctor, first=first, last=last)


def waitlisted(doctor: str) -> str:
    return _(
        "You are on the waiting list of {doctor}. You will be told when a time frees up."
    ).format(doctor=doctor)


def ended() -> str:
    return _("This conversation has ended. Start a new one to book again.")

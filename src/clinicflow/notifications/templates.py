"""What each type of notification says, in English and Swahili, and how much it matters.

Texts are rendered once, in the recipient's language, when the notification is written:
a message must read the same on every channel and on every later look at the bell. Here
are the bodies; each type's title is beside the type (`schemas.Kind.title_in`), because the
pages also name the type by it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from clinicflow.i18n import gettext_in
from clinicflow.notifications.schemas import Channel, Kind, Priority

Body = Callable[[str], str]

ALL_CHANNELS = (Channel.in_app, Channel.sms, Channel.push, Channel.email)
APP_AND_PUSH = (Channel.in_app, Channel.push)
APP_PUSH_SMS = (Channel.in_app, Channel.push, Channel.sms)


@dataclass(frozen=True)
class Template:
    priority: Priority
    # What a person gets until they choose; urgent types ignore choices (every channel).
    defaults: tuple[Channel, ...]
    body: Body


TEMPLATES: dict[Kind, Template] = {
    Kind.booking_confirmed: Template(
        Priority.normal,
        (Channel.in_app, Channel.sms, Channel.email),
        lambda lang: gettext_in(lang, "Your appointment with {doctor} on {when} is confirmed."),
    ),
    Kind.booking_cancelled: Template(
        Priority.normal,
        (Channel.in_app, Channel.sms, Channel.email),
        lambda lang: gettext_in(lang, "Your appointment with {doctor} on {when} was cancelled."),
    ),
    Kind.booking_moved: Template(
        Priority.normal,
        (Channel.in_app, Channel.sms, Channel.email),
        lambda lang: gettext_in(lang, "Your appointment with {doctor} is now on {when}."),
    ),
    Kind.reminder_24h: Template(
        Priority.normal,
        (Channel.in_app, Channel.sms, Channel.email),
        lambda lang: gettext_in(lang, "Reminder: you see {doctor} on {when}."),
    ),
    Kind.reminder_1h: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(
            lang, "Reminder: you see {doctor} at {when}. Check in when you arrive."
        ),
    ),
    Kind.checked_in: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(lang, "Your token for {doctor} is {token}."),
    ),
    Kind.queue_top10: Template(
        Priority.low,
        APP_AND_PUSH,
        lambda lang: gettext_in(lang, "Token {token}: you are number {position} in the queue."),
    ),
    Kind.queue_top3: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(
            lang, "Token {token}: you are number {position}. Please stay close."
        ),
    ),
    Kind.queue_next: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(lang, "Token {token}: you are next to see {doctor}."),
    ),
    Kind.queue_turn: Template(
        Priority.urgent,
        ALL_CHANNELS,
        lambda lang: gettext_in(lang, "Token {token}: {doctor} is ready to see you now."),
    ),
    Kind.queue_missed: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(
            lang,
            "Token {token} was called and you were not there. "
            "Ask for a new token today, or book another time.",
        ),
    ),
    Kind.queue_new_token: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(lang, "Your new token for {doctor} is {token}."),
    ),
    Kind.doctor_away: Template(
        Priority.normal,
        APP_AND_PUSH,
        lambda lang: gettext_in(
            lang, "{doctor} has stepped away. Your place in the queue is kept."
        ),
    ),
    Kind.meeting_link: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(
            lang,
            "{doctor} will see you online. Wait in the waiting room; the call opens there "
            "when it is your turn: {link}",
        ),
    ),
    Kind.consult_accepted: Template(
        Priority.normal,
        APP_AND_PUSH,
        lambda lang: gettext_in(lang, "{doctor} accepted your consultation."),
    ),
    Kind.consult_declined: Template(
        Priority.normal,
        APP_PUSH_SMS,
        lambda lang: gettext_in(lang, "{doctor} could not take your consultation."),
    ),
    Kind.consult_ended: Template(
        Priority.low,
        (Channel.in_app,),
        lambda lang: gettext_in(lang, "Your consultation with {doctor} has ended."),
    ),
    Kind.chat_message: Template(
        Priority.normal,
        APP_AND_PUSH,
        lambda lang: gettext_in(lang, "{sender} wrote to you in your consultation."),
    ),
    Kind.weekly_report: Template(
        Priority.low,
        (Channel.in_app, Channel.email),
        lambda lang: gettext_in(
            lang,
            "Last week at the clinic ({period}): {visits} visits, {completed} completed, "
            "no-show rate {no_show_rate}. The figures are attached to the e-mail as PDF and CSV.",
        ),
    ),
}


def render(kind: Kind, language: str, values: Mapping[str, str]) -> tuple[str, str]:
    """A notification's title and body in `language`, its values filled into the body."""
    return kind.title_in(language), TEMPLATES[kind].body(language).format(**values)

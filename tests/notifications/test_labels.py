"""Notifications' enums carry the words a person reads, in the reader's language: a channel,
a delivery's status, and a type (named by its notifications' title)."""

from __future__ import annotations

import contextvars

from clinicflow import i18n
from clinicflow.core.labels import choices
from clinicflow.notifications import models, templates
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind


def in_language(language: str) -> dict[str, dict[str, str]]:
    """Every label read with `language` as the page's language (in a copied context, so the
    choice does not leak into other tests)."""

    def labels() -> dict[str, dict[str, str]]:
        i18n.set_language(language)
        return {
            "channels": choices(Channel),
            "statuses": choices(DeliveryStatus),
            "types": choices(Kind),
        }

    return contextvars.copy_context().run(labels)


def test_labels_are_translated_when_read() -> None:
    english, swahili = in_language("en"), in_language("sw")
    assert english["channels"] == {
        "in_app": "In the app",
        "sms": "SMS",
        "push": "Browser notification",
        "email": "Email",
    }
    assert swahili["channels"]["in_app"] == "Ndani ya programu"
    assert swahili["channels"]["push"] == "Arifa ya kivinjari"
    assert english["statuses"] == {
        "pending": "Pending",
        "sent": "Sent",
        "failed": "Failed, will retry",
        "gave_up": "Gave up",
    }
    assert swahili["statuses"] == {
        "pending": "Inasubiri",
        "sent": "Ulitumwa",
        "failed": "Imeshindwa, itajaribiwa tena",
        "gave_up": "Imekatishwa",
    }
    assert list(english["types"]) == [kind.value for kind in Kind]
    assert english["types"]["booking_confirmed"] == "Appointment confirmed"
    assert swahili["types"]["booking_confirmed"] == "Miadi imethibitishwa"


def test_a_type_is_named_by_the_title_its_notifications_carry() -> None:
    for language in i18n.LANGUAGES:
        types = in_language(language)["types"]
        for kind in Kind:
            title, _body = templates.render(kind, language, templates_values())
            assert types[kind.value] == title == kind.title_in(language)


def templates_values() -> dict[str, str]:
    """A value for every placeholder any body has."""
    names = ("doctor", "when", "token", "position", "link", "sender")
    names += ("period", "visits", "completed", "no_show_rate")
    return {name: f"<{name}>" for name in names}


def test_the_old_import_path_names_the_same_enums() -> None:
    assert (models.Channel, models.DeliveryStatus, models.Kind) == (Channel, DeliveryStatus, Kind)

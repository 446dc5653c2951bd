"""Identity's enums carry the words a person reads, in the reader's language."""

from __future__ import annotations

import contextvars

from clinicflow import i18n
from clinicflow.core.labels import choices
from clinicflow.identity import models
from clinicflow.identity.schemas import Language, PatientType, Role


def in_language(language: str) -> dict[str, dict[str, str]]:
    """Every label read with `language` as the page's language (in a copied context, so the
    choice does not leak into other tests)."""

    def labels() -> dict[str, dict[str, str]]:
        i18n.set_language(language)
        return {
            "roles": choices(Role),
            "types": choices(PatientType),
            "languages": choices(Language),
        }

    return contextvars.copy_context().run(labels)


def test_labels_are_translated_when_read() -> None:
    english, swahili = in_language("en"), in_language("sw")
    assert english["roles"] == {
        "patient": "Patient",
        "doctor": "Doctor",
        "receptionist": "Receptionist",
        "admin": "Administrator",
    }
    assert swahili["roles"] == {
        "patient": "Mgonjwa",
        "doctor": "Daktari",
        "receptionist": "Mhudumu wa mapokezi",
        "admin": "Msimamizi",
    }
    assert list(english["types"]) == [t.value for t in PatientType]
    assert swahili["types"]["pregnant"] == "Mjamzito"


def test_a_language_is_named_in_itself_whatever_the_page_language() -> None:
    assert in_language("en")["languages"] == in_language("sw")["languages"] == i18n.LANGUAGES


def test_the_old_import_path_names_the_same_enums() -> None:
    assert (models.Role, models.PatientType, models.Language) == (Role, PatientType, Language)

"""Safe prescribing: every medicine of a prescription against the patient's active allergies
and active medications, through the formulary.

An allergy meets a medicine
- by substance: the allergy names the medicine, another name of it, or one of the
  substances of a combination (an "amoxicillin" allergy meets "amoxicillin + clavulanic
  acid");
- by class: the allergy names a class the medicine belongs to, in the list's plural, the
  singular or a common short name ("penicillin", "sulfa", "NSAID");
- through the allergy's own medicine: an allergy to a formulary medicine meets every
  medicine of its therapeutic class (the first class listed: an "ibuprofen" allergy meets
  diclofenac, an "amoxicillin" allergy meets ampicillin but not ceftriaxone).

Two medicines duplicate each other when they are the same medicine (or share a substance)
or share their therapeutic class (ibuprofen and diclofenac: both NSAIDs). A new medicine is
checked against the active medications and against the other rows of the same prescription.

A medicine that is not in the formulary is still checked by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from clinicflow.i18n import gettext as _
from clinicflow.records import formulary, schemas
from clinicflow.records.formulary import Medicine, normal


def _names(text: str, medicine: Medicine | None) -> set[str]:
    """Every name a prescribed or listed medicine goes by, its substances included."""
    names = {normal(text)}
    if medicine is not None:
        names |= {normal(medicine.name), *medicine.aliases, *map(normal, medicine.components)}
    return names


def _substances(text: str, medicine: Medicine | None) -> set[str]:
    if medicine is None:
        return {normal(text)}
    return set(map(normal, medicine.components))


def allergy_meets(allergy: str, prescribed: str) -> str | None:
    """Whether an allergy meets a prescribed medicine: `""` by substance, the class's name
    by class, None when it does not."""
    medicine = formulary.find(prescribed)
    wanted = normal(allergy)
    allergen = formulary.find(allergy)
    if wanted in _names(prescribed, medicine) or (
        allergen is not None and _substances(allergy, allergen) & _substances(prescribed, medicine)
    ):
        return ""
    if medicine is None:
        return None
    named = formulary.class_named(allergy)
    if named is not None and named in medicine.classes:
        return named
    if allergen is not None and allergen.therapeutic_class in medicine.classes:
        return allergen.therapeutic_class
    return None


def duplicates(first: str, second: str) -> str | None:
    """Whether two medicines do the same work: `""` the same medicine, the class's name
    when they share their therapeutic class, None otherwise."""
    one, other = formulary.find(first), formulary.find(second)
    if _substances(first, one) & _substances(second, other):
        return ""
    if (
        one is not None
        and other is not None
        and one.therapeutic_class is not None
        and one.therapeutic_class == other.therapeutic_class
    ):
        return one.therapeutic_class
    return None


def _allergy_conflict(medicine: str, allergy: str, by_class: str) -> schemas.Conflict:
    if by_class:
        message = _(
            "{medicine} is one of the {group}, and the patient is allergic to {allergy}."
        ).format(medicine=medicine, group=by_class, allergy=allergy)
    else:
        message = _("The patient is allergic to {allergy}: {medicine} contains it.").format(
            allergy=allergy, medicine=medicine
        )
    return schemas.Conflict(
        code="allergy_conflict",
        medicine=medicine,
        allergy=allergy,
        class_name=by_class or None,
        message=message,
    )


def _duplicate(medicine: str, medication: str, by_class: str) -> schemas.Conflict:
    if by_class:
        message = _("{medicine} and {medication} are both {group}.").format(
            medicine=medicine, medication=medication, group=by_class
        )
    else:
        message = _("{medicine} duplicates {medication}.").format(
            medicine=medicine, medication=medication
        )
    return schemas.Conflict(
        code="duplicate_therapy",
        medicine=medicine,
        medication=medication,
        class_name=by_class or None,
        message=message,
    )


def conflicts(
    prescribed: Sequence[str], *, allergies: Sequence[str], medications: Sequence[str]
) -> list[schemas.Conflict]:
    """Every allergy a medicine meets, then every duplicate therapy, in the rows' order.

    `allergies` are the substances of the active allergies, `medications` the names of the
    active medications; blank rows are skipped."""
    rows = [name for name in prescribed if name.strip()]
    found: list[schemas.Conflict] = []
    for medicine in rows:
        for allergy in allergies:
            by_class = allergy_meets(allergy, medicine)
            if by_class is not None:
                found.append(_allergy_conflict(medicine, allergy, by_class))
    for index, medicine in enumerate(rows):
        for other in [*medications, *rows[:index]]:
            by_class = duplicates(medicine, other)
            if by_class is not None:
                found.append(_duplicate(medicine, other, by_class))
    return found

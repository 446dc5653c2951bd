"""The medicines list the prescription form searches and the safety checks read.

`data/formulary.csv` ships with the package: the WHO Model List of Essential Medicines and
other common medicines, one row per generic name and form, with its strengths, ATC code,
the classes it belongs to (its therapeutic class first, then the wider allergy classes:
amoxicillin is `penicillins|beta-lactams`) and other names it is known by (brands,
abbreviations, older spellings). It is read once per process and kept in memory: the
typeahead asks on every keystroke.

Names are matched without regard to case or spacing. A prescribed medicine that is not in
the list is still allowed; it is simply not checked against classes.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA = Path(__file__).parent / "data" / "formulary.csv"
# A level-5 ATC code (a substance: J01CA04), or a level-4 group (A07CA) for mixtures that
# have no substance code of their own.
ATC = re.compile(r"[A-Z]\d\d[A-Z]{2}(\d\d)?")
SEARCH_LIMIT = 20


def normal(text: str) -> str:
    """A name as compared: lower case, single spaces, no surrounding punctuation."""
    return " ".join(text.lower().replace("\u2019", "'").split()).strip(" .,;:")


@dataclass(frozen=True)
class Medicine:
    """One row of the formulary: a generic name in one form."""

    name: str
    form: str
    strengths: tuple[str, ...]
    atc: str
    classes: tuple[str, ...]
    aliases: tuple[str, ...]

    @property
    def therapeutic_class(self) -> str | None:
        """The first class listed: two medicines sharing it duplicate each other's work."""
        return self.classes[0] if self.classes else None

    @property
    def components(self) -> tuple[str, ...]:
        """The substances of a combination (`amoxicillin + clavulanic acid`), or the name."""
        return tuple(part.strip() for part in self.name.split("+"))


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split("|") if part.strip())


@cache
def medicines() -> tuple[Medicine, ...]:
    """Every row, read once."""
    with DATA.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Medicine(
                name=row["name"].strip(),
                form=row["form"].strip(),
                strengths=_split(row["strengths"]),
                atc=row["atc"].strip(),
                classes=tuple(normal(c) for c in _split(row["classes"])),
                aliases=tuple(normal(a) for a in _split(row["aliases"] or "")),
            )
            for row in csv.DictReader(handle)
        )


@cache
def _by_name() -> dict[str, Medicine]:
    """Each generic name and alias to its first row (the forms share their classes)."""
    found: dict[str, Medicine] = {}
    for medicine in medicines():
        for key in (normal(medicine.name), *medicine.aliases):
            found.setdefault(key, medicine)
    return found


@cache
def classes() -> frozenset[str]:
    """Every class some medicine belongs to."""
    return frozenset(c for medicine in medicines() for c in medicine.classes)


def search(query: str, *, limit: int = SEARCH_LIMIT) -> list[Medicine]:
    """Rows whose name or another name contains the query: those starting with it first,
    then alphabetically. A blank query finds nothing."""
    wanted = normal(query)
    if not wanted:
        return []
    ranked: list[tuple[int, str, str, Medicine]] = []
    for medicine in medicines():
        names = (normal(medicine.name), *medicine.aliases)
        if any(name.startswith(wanted) for name in names):
            rank = 0
        elif any(wanted in name for name in names):
            rank = 1
        else:
            continue
        ranked.append((rank, medicine.name, medicine.form, medicine))
    ranked.sort(key=lambda item: item[:3])
    return [item[3] for item in ranked[:limit]]


def find(name: str) -> Medicine | None:
    """The formulary medicine a prescribed name means: its generic name or another name,
    or the longest one the text starts with as whole words ("Amoxicillin 500 mg caps")."""
    wanted = normal(name)
    if not wanted:
        return None
    known = _by_name()
    if wanted in known:
        return known[wanted]
    words = wanted.split(" ")
    for length in range(len(words) - 1, 0, -1):
        candidate = " ".join(words[:length])
        if candidate in known:
            return known[candidate]
    return None


def class_named(text: str) -> str | None:
    """The class an allergy names, in the plural the list uses or singular ("penicillin"),
    or by a common short name ("sulfa", "NSAID")."""
    wanted = normal(text)
    wanted = CLASS_SYNONYMS.get(wanted, wanted)
    for candidate in (wanted, wanted + "s", wanted + "es"):
        if candidate in classes():
            return candidate
    return None


CLASS_SYNONYMS = {
    "sulfa": "sulfonamides",
    "sulpha": "sulfonamides",
    "sulfa drugs": "sulfonamides",
    "sulphonamides": "sulfonamides",
    "sulphonamide": "sulfonamides",
    "nsaid": "nsaids",
    "non-steroidal anti-inflammatory drugs": "nsaids",
    "beta lactam": "beta-lactams",
    "beta lactams": "beta-lactams",
    "betalactams": "beta-lactams",
    "quinolone": "quinolones",
    "ace inhibitor": "ace inhibitors",
    "statin": "statins",
    "opiate": "opioids",
    "opiates": "opioids",
    "opioid": "opioids",
    "local anesthetics": "local anaesthetics",
}

"""The formulary: the data file loads, every row is valid, the common classes are right, and
`GET /api/formulary?q=` finds medicines as the doctor types."""

from __future__ import annotations

import csv
import re

import httpx
import pytest

from clinicflow.records import formulary
from tests.records.clinic import RecordsClinic

ATC = re.compile(r"^[A-Z]\d\d[A-Z]{2}(\d\d)?$")
# ATC anatomical main groups.
ANATOMICAL = set("ABCDGHJLMNPRSV")
KNOWN: dict[str, set[str]] = {
    "amoxicillin": {"penicillins", "beta-lactams"},
    "benzylpenicillin": {"penicillins", "beta-lactams"},
    "phenoxymethylpenicillin": {"penicillins", "beta-lactams"},
    "cloxacillin": {"penicillins", "beta-lactams"},
    "ceftriaxone": {"cephalosporins", "beta-lactams"},
    "cefalexin": {"cephalosporins", "beta-lactams"},
    "meropenem": {"carbapenems", "beta-lactams"},
    "sulfamethoxazole + trimethoprim": {"sulfonamides"},
    "ibuprofen": {"nsaids"},
    "diclofenac": {"nsaids"},
    "acetylsalicylic acid": {"nsaids"},
    "azithromycin": {"macrolides"},
    "erythromycin": {"macrolides"},
    "ciprofloxacin": {"fluoroquinolones"},
    "doxycycline": {"tetracyclines"},
    "gentamicin": {"aminoglycosides"},
    "morphine": {"opioids"},
    "diazepam": {"benzodiazepines"},
    "enalapril": {"ace inhibitors"},
    "simvastatin": {"statins"},
}
ATC_OF = {
    "amoxicillin": "J01CA04",
    "paracetamol": "N02BE01",
    "metformin": "A10BA02",
    "ceftriaxone": "J01DD04",
    "artemether + lumefantrine": "P01BF01",
}


def test_the_data_file_loads_and_every_row_is_valid() -> None:
    with formulary.DATA.open(encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    rows = formulary.medicines()
    assert len(rows) == len(raw) >= 300
    assert len({m.name for m in rows}) >= 300
    seen = set()
    for medicine in rows:
        assert medicine.name
        assert medicine.name == medicine.name.strip()
        assert medicine.form, medicine
        assert medicine.strengths, medicine
        assert ATC.match(medicine.atc), medicine
        assert medicine.atc[0] in ANATOMICAL, medicine
        assert medicine.classes, medicine
        assert all(c == c.lower() for c in medicine.classes), medicine
        assert (medicine.name, medicine.form) not in seen
        seen.add((medicine.name, medicine.form))


def test_the_common_classes_and_codes_are_right() -> None:
    for name, classes in KNOWN.items():
        medicine = formulary.find(name)
        assert medicine is not None, name
        assert classes <= set(medicine.classes), name
    for name, code in ATC_OF.items():
        medicine = formulary.find(name)
        assert medicine is not None
        assert medicine.atc == code
    # Every penicillin is a beta-lactam; so is every cephalosporin and carbapenem.
    for medicine in formulary.medicines():
        if {"penicillins", "cephalosporins", "carbapenems"} & set(medicine.classes):
            assert "beta-lactams" in medicine.classes, medicine
        if medicine.atc.startswith("J01C"):
            assert "penicillins" in medicine.classes, medicine


def test_other_names_and_typed_strengths_find_the_medicine() -> None:
    assert formulary.find("Co-trimoxazole") == formulary.find("sulfamethoxazole + trimethoprim")
    assert formulary.find("acetaminophen") == formulary.find("Paracetamol")
    assert formulary.find("Amoxicillin 500 mg capsules") == formulary.find("amoxicillin")
    assert formulary.find("Something unheard of") is None


@pytest.mark.usefixtures("app")
async def test_the_search_finds_amoxicillin_with_its_classes(clinic: RecordsClinic) -> None:
    doctor = await clinic.doctor()
    found = await clinic.client.get("/api/formulary?q=amox", headers=doctor.headers)
    assert found.status_code == 200
    rows = found.json()
    assert rows[0]["name"] == "amoxicillin"
    assert set(rows[0]) == {"name", "form", "strengths", "atc", "classes"}
    assert rows[0]["classes"] == ["penicillins", "beta-lactams"]
    assert {r["form"] for r in rows if r["name"] == "amoxicillin"} >= {"capsule", "oral suspension"}
    # Starts-with first, then contains; any case; blank finds nothing.
    upper = await clinic.client.get("/api/formulary?q=CILLIN", headers=doctor.headers)
    assert {r["name"] for r in upper.json()} >= {"ampicillin", "cloxacillin"}
    blank = await clinic.client.get("/api/formulary?q=", headers=doctor.headers)
    assert blank.json() == []


@pytest.mark.usefixtures("app")
async def test_the_search_is_for_signed_in_people(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/api/formulary?q=amox")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "authentication_required"

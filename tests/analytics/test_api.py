"""The analytics API: who may read which figures, the fixed shape, and CSV = JSON."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

import httpx

from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from tests.analytics.day import ClinicDay
from tests.factories import bearer, latest_code, login

RANGE = {"from": "2026-03-01", "to": "2026-03-02"}


async def headers_of(client: httpx.AsyncClient, day: ClinicDay, role: Role) -> dict[str, str]:
    return bearer(await login(client, await day.accounts.make(role)))


async def a_busy_morning(day: ClinicDay) -> tuple[User, User]:
    first, second = await day.doctor(), await day.doctor()
    for doctor, minutes in ((first, 5), (second, 20)):
        entry = await day.walk_in(doctor, datetime(2026, 3, 2, 6, 0, tzinfo=UTC))
        await day.call(doctor, datetime(2026, 3, 2, 6, minutes, tzinfo=UTC))
        await day.finish(doctor, entry, datetime(2026, 3, 2, 6, 40, tzinfo=UTC))
    await day.at(datetime(2026, 3, 2, 9, 0, tzinfo=UTC))
    return first, second


async def test_the_summary_has_the_fixed_shape(client: httpx.AsyncClient, day: ClinicDay) -> None:
    await a_busy_morning(day)
    admin = await headers_of(client, day, Role.admin)
    response = await client.get("/api/analytics/summary", params=RANGE, headers=admin)
    assert response.status_code == 200, response.text
    body = response.json()
    for name in ("visits", "walk_ins", "appointments", "completed", "no_show_rate"):
        assert name in body
    assert body["cancellation_rate"] is None  # no appointment was due
    assert body["visits"] == 2
    assert body["walk_ins"] == 2
    assert body["completed"] == 2
    assert body["wait_minutes"] == {"p50": 5, "p90": 20, "over_30": 0, "over_60": 0}
    assert body["service_minutes"]["p50"] == 20
    assert body["by_bucket"][-1] == {
        "start": "2026-03-02",
        "visits": 2,
        "walk_ins": 2,
        "completed": 2,
        "no_shows": 0,
        "wait_p50": 5,
    }
    assert sorted(d["wait_p50"] for d in body["by_doctor"]) == [5, 20]
    assert body["from"] == "2026-03-01"
    assert body["to"] == "2026-03-02"
    assert {c["channel"] for c in body["notifications"]} >= {"sms", "email"}


async def test_a_doctor_sees_their_own_figures_only(
    client: httpx.AsyncClient, day: ClinicDay
) -> None:
    first, second = await a_busy_morning(day)
    own = bearer(await login(client, first))
    mine = await client.get("/api/analytics/summary", params=RANGE, headers=own)
    assert mine.status_code == 200
    assert [d["doctor_id"] for d in mine.json()["by_doctor"]] == [str(first.id)]
    assert mine.json()["wait_minutes"]["p50"] == 5
    assert mine.json()["notifications"] is None  # clinic-wide: the administrator's

    other = await client.get(
        "/api/analytics/summary", params={**RANGE, "doctor_id": str(second.id)}, headers=own
    )
    assert other.status_code == 403
    assert other.json()["error"]["code"] == "forbidden"
    csv_other = await client.get(
        "/api/analytics/summary.csv", params={**RANGE, "doctor_id": str(second.id)}, headers=own
    )
    assert csv_other.status_code == 403


async def test_receptionists_and_patients_get_no_figures(
    client: httpx.AsyncClient, day: ClinicDay
) -> None:
    await a_busy_morning(day)
    patient = await day.accounts.make(Role.patient)
    assert patient.phone
    await client.post("/api/auth/otp/request", json={"phone": patient.phone})
    verified = await client.post(
        "/api/auth/otp/verify",
        json={"phone": patient.phone, "code": latest_code(day.runtime, patient.phone)},
    )
    patient_tokens = bearer(verified.json())
    for headers in (await headers_of(client, day, Role.receptionist), patient_tokens):
        for path in ("/api/analytics/summary", "/api/analytics/summary.csv"):
            response = await client.get(path, params=RANGE, headers=headers)
            assert response.status_code == 403, path
    assert (await client.get("/api/analytics/summary", params=RANGE)).status_code == 401


async def test_a_bad_range_names_the_field(client: httpx.AsyncClient, day: ClinicDay) -> None:
    admin = await headers_of(client, day, Role.admin)
    backwards = await client.get(
        "/api/analytics/summary", params={"from": "2026-03-05", "to": "2026-03-01"}, headers=admin
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"]["field"] == "to"
    too_long = await client.get(
        "/api/analytics/summary", params={"from": "2020-01-01", "to": "2026-03-01"}, headers=admin
    )
    assert too_long.status_code == 422
    assert too_long.json()["error"]["details"]["field"] == "from"
    ancient = await client.get(
        "/api/analytics/summary", params={"from": "0001-01-01", "to": "0001-01-02"}, headers=admin
    )
    assert ancient.status_code == 422
    assert ancient.json()["error"]["details"]["field"] == "from"
    garbage = await client.get(
        "/api/analytics/summary", params={"from": "yesterday", "bucket": "year"}, headers=admin
    )
    assert garbage.status_code == 422


async def test_the_csv_holds_the_json_numbers(client: httpx.AsyncClient, day: ClinicDay) -> None:
    await a_busy_morning(day)
    admin = await headers_of(client, day, Role.admin)
    for bucket in ("day", "week", "month"):
        query = {**RANGE, "bucket": bucket}
        body = (await client.get("/api/analytics/summary", params=query, headers=admin)).json()
        response = await client.get("/api/analytics/summary.csv", params=query, headers=admin)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        values = {(r["section"], r["key"], r["metric"]): r["value"] for r in rows}

        def cell(value: Any) -> str:
            return "" if value is None else str(value)

        expected = {
            ("summary", "", name): cell(body[name])
            for name in (
                "visits",
                "walk_ins",
                "appointments",
                "completed",
                "no_show_rate",
                "cancellation_rate",
            )
        }
        expected |= {("wait_minutes", "", k): cell(v) for k, v in body["wait_minutes"].items()}
        expected[("service_minutes", "", "p50")] = cell(body["service_minutes"]["p50"])
        for b in body["by_bucket"]:
            for k, v in b.items():
                if k != "start":
                    expected[("by_bucket", b["start"], k)] = cell(v)
        for d in body["by_doctor"]:
            for k, v in d.items():
                if k != "doctor_id":
                    expected[("by_doctor", d["doctor_id"], k)] = cell(v)
        for c in body["heatmap"]:
            expected[("heatmap", f"{c['weekday']}:{c['hour']}", "arrivals")] = cell(c["arrivals"])
        for key, value in expected.items():
            assert values[key] == value, key
        sections = {r["section"] for r in rows}
        assert sections >= {"summary", "by_bucket", "by_doctor", "heatmap", "notifications"}

    one = await client.get(
        "/api/analytics/summary.csv", params={**RANGE, "section": "by_doctor"}, headers=admin
    )
    assert {r["section"] for r in csv.DictReader(io.StringIO(one.text))} == {"by_doctor"}

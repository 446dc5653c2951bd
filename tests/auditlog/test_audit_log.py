"""The audit log (issue 17): filters in the clinic's days, cursor paging that never skips or
repeats a row, the chain's state beside the rows, a CSV of the same rows, admins only."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.factories import Accounts, bearer, login

NAIROBI = ZoneInfo("Africa/Nairobi")
ACTIONS = ("appointment.book", "record.read", "user.update")
RESOURCES = ("appointment", "record", "user")
# Rows are written around midnight in Nairobi (21:00 UTC), where UTC and clinic days differ.
BASE = datetime(2026, 3, 1, 18, 0, tzinfo=UTC)


async def _write(
    runtime: Runtime,
    *,
    at: datetime,
    action: str = "record.read",
    resource_type: str = "record",
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> None:
    clock.set_source(clock.FrozenClock(at))
    try:
        async with runtime.transaction() as session:
            await audit.record(
                session,
                action=action,
                resource_type=resource_type,
                resource_id=uuid.uuid4(),
                actor=actor,
                details=details or {"note": "x"},
            )
    finally:
        clock.reset()


async def _all_pages(
    client: httpx.AsyncClient, headers: dict[str, str], query: dict[str, Any]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    cursor: str | None = None
    for _ in range(1000):
        params = {**query, **({"cursor": cursor} if cursor else {})}
        response = await client.get("/api/admin/audit", params=params, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        rows.extend(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return rows
    raise AssertionError("the cursor never ended")


async def test_filters_by_person_action_resource_and_clinic_days(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    admin_user = await accounts.make(Role.admin)
    doctor = await accounts.make(Role.doctor)
    admin = bearer(await login(client, admin_user))
    # 20:30 UTC on 1 March is 23:30 in Nairobi (1 March); 21:30 UTC is 00:30 on 2 March.
    await _write(runtime, at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC), actor=doctor)
    await _write(
        runtime,
        at=datetime(2026, 3, 1, 21, 30, tzinfo=UTC),
        actor=doctor,
        action="appointment.book",
        resource_type="appointment",
    )
    await _write(runtime, at=datetime(2026, 3, 2, 21, 30, tzinfo=UTC), action="user.update")

    async def seqs(**query: Any) -> list[int]:
        return [row["seq"] for row in await _all_pages(client, admin, query)]

    everything = await seqs()
    assert everything == sorted(everything, reverse=True)
    doctors = await seqs(actor_id=str(doctor.id))
    assert len(doctors) == 2
    assert all(
        row["actor_name"] == doctor.name
        for row in await _all_pages(client, admin, {"actor_id": str(doctor.id)})
    )
    assert len(await seqs(action="appointment.book")) == 1
    assert len(await seqs(resource_type="record", actor_id=str(doctor.id))) == 1
    # The clinic's 2 March holds the 00:30 booking but not the 23:30 read of the day before.
    second = await _all_pages(client, admin, {"from": "2026-03-02", "to": "2026-03-02"})
    assert [row["action"] for row in second] == ["appointment.book"]
    first = await _all_pages(client, admin, {"to": "2026-03-01", "actor_id": str(doctor.id)})
    assert [row["action"] for row in first] == ["record.read"]


async def test_bad_filters_are_a_422_naming_the_field(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    for query, field in (
        ({"actor_id": "someone"}, "actor_id"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
    ):
        for path in ("/api/admin/audit", "/api/admin/audit.csv"):
            response = await client.get(path, params=query, headers=admin)
            assert response.status_code == 422, (path, query)
            locations = [
                problem["loc"] for problem in response.json()["error"]["details"]["errors"]
            ]
            assert ["query", field] in locations
    backwards = await client.get(
        "/api/admin/audit", params={"from": "2026-03-02", "to": "2026-03-01"}, headers=admin
    )
    assert backwards.status_code == 422
    assert backwards.json()["error"]["details"]["field"] == "to"
    # Days a UTC instant cannot hold once moved from the clinic's zone (found by the fuzzer).
    for query, field in (({"from": "0001-01-01"}, "from"), ({"to": "9999-12-31"}, "to")):
        for path in ("/api/admin/audit", "/api/admin/audit.csv"):
            far = await client.get(path, params=query, headers=admin)
            assert far.status_code == 422, (path, query)
            assert far.json()["error"]["details"]["field"] == field
    for cursor in ("garbage", "c2VxOi0x", "bm90IGEgc2Vx"):
        bad = await client.get("/api/admin/audit", params={"cursor": cursor}, headers=admin)
        assert bad.status_code == 422, cursor
        assert bad.json()["error"]["details"]["field"] == "cursor"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    new_rows=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=96),
            st.sampled_from(ACTIONS),
            st.sampled_from(RESOURCES),
            st.booleans(),
        ),
        max_size=8,
    ),
    action=st.none() | st.sampled_from(ACTIONS),
    resource_type=st.none() | st.sampled_from(RESOURCES),
    by_doctor=st.booleans(),
    start=st.none() | st.integers(min_value=0, max_value=4),
    days=st.none() | st.integers(min_value=0, max_value=3),
    limit=st.integers(min_value=1, max_value=7),
)
async def test_paging_returns_every_matching_row_once_in_order(
    client: httpx.AsyncClient,
    accounts: Accounts,
    runtime: Runtime,
    session: AsyncSession,
    new_rows: list[tuple[int, str, str, bool]],
    action: str | None,
    resource_type: str | None,
    by_doctor: bool,
    start: int | None,
    days: int | None,
    limit: int,
) -> None:
    """Whatever the trail holds and whatever the filter, following `next_cursor` from the
    first page yields exactly the matching rows, newest first, each once."""
    admin_user = (await session.scalars(select(User).where(User.role == Role.admin))).first()
    doctor = (await session.scalars(select(User).where(User.role == Role.doctor))).first()
    admin_user = admin_user or await accounts.make(Role.admin)
    doctor = doctor or await accounts.make(Role.doctor)
    admin = bearer(await login(client, admin_user))
    for hours, row_action, row_resource, mine in new_rows:
        await _write(
            runtime,
            at=BASE + timedelta(hours=hours),
            action=row_action,
            resource_type=row_resource,
            actor=doctor if mine else None,
        )
    first_day = date(2026, 3, 1) + timedelta(days=start) if start is not None else None
    last_day = (first_day or date(2026, 3, 1)) + timedelta(days=days) if days is not None else None
    query: dict[str, Any] = {"limit": limit}
    if action:
        query["action"] = action
    if resource_type:
        query["resource_type"] = resource_type
    if by_doctor:
        query["actor_id"] = str(doctor.id)
    if first_day:
        query["from"] = first_day.isoformat()
    if last_day:
        query["to"] = last_day.isoformat()

    def matches(entry: audit.AuditEntry) -> bool:
        day = entry.occurred_at.astimezone(NAIROBI).date()
        return (
            (action is None or entry.action == action)
            and (resource_type is None or entry.resource_type == resource_type)
            and (not by_doctor or entry.actor_id == doctor.id)
            and (first_day is None or day >= first_day)
            and (last_day is None or day <= last_day)
        )

    trail = await session.scalars(select(audit.AuditEntry).order_by(audit.AuditEntry.seq.desc()))
    expected = [entry.seq for entry in trail if matches(entry)]
    assert [row["seq"] for row in await _all_pages(client, admin, query)] == expected


async def test_a_tampered_row_shows_where_the_chain_was_altered(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    admin_user = await accounts.make(Role.admin)
    admin = bearer(await login(client, admin_user))
    for hours in range(4):
        await _write(runtime, at=BASE + timedelta(hours=hours))
    intact = (await client.get("/api/admin/audit", headers=admin)).json()["chain"]
    assert intact["intact"] is True
    assert intact["first_bad_row"] is None
    rows = intact["checked_rows"]
    assert rows >= 4

    victim = rows - 1
    async with runtime.engine.begin() as connection:
        await connection.execute(
            update(audit.AuditEntry.__table__)
            .where(audit.AuditEntry.__table__.c.seq == victim)
            .values(details={"note": "rewritten"})
        )
    chain = (await client.get("/api/admin/audit", headers=admin)).json()["chain"]
    assert chain == {"intact": False, "checked_rows": victim - 1, "first_bad_row": victim}

    await client.get("/login")
    csrf = client.cookies.get("cf_csrf")
    signed_in = await client.post(
        "/login",
        data={"email": admin_user.email, "password": "correct horse battery", "csrf_token": csrf},
    )
    assert signed_in.status_code in (200, 303), signed_in.text
    page = await client.get("/admin/audit")
    assert page.status_code == 200
    assert f"The chain was altered at row {victim}." in page.text
    assert 'data-intact="false"' in page.text


async def test_the_csv_has_the_same_rows_as_the_json(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    admin = bearer(await login(client, await accounts.make(Role.admin)))
    doctor = await accounts.make(Role.doctor)
    for hours in range(7):
        await _write(
            runtime,
            at=BASE + timedelta(hours=hours),
            actor=doctor if hours % 2 else None,
            details={"formula": "=1+1", "n": hours},
        )
    for query in ({}, {"actor_id": str(doctor.id)}, {"from": "2026-03-02"}):
        json_rows = await _all_pages(client, admin, {**query, "limit": 2})
        response = await client.get("/api/admin/audit.csv", params=query, headers=admin)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        csv_rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [int(row["seq"]) for row in csv_rows] == [row["seq"] for row in json_rows]
        for mine, theirs in zip(csv_rows, json_rows, strict=True):
            assert mine["action"] == theirs["action"]
            assert mine["actor_name"] == (theirs["actor_name"] or "")
            assert datetime.fromisoformat(mine["occurred_at"]) == datetime.fromisoformat(
                theirs["occurred_at"]
            )
            assert '"=1+1"' not in mine["details"] or mine["details"].startswith("{")


async def test_only_an_admin_reads_the_audit_log(
    client: httpx.AsyncClient, accounts: Accounts
) -> None:
    for role in (Role.doctor, Role.receptionist):
        headers = bearer(await login(client, await accounts.make(role)))
        for path in ("/api/admin/audit", "/api/admin/audit.csv"):
            response = await client.get(path, headers=headers)
            assert response.status_code == 403, (role, path)
            assert "seq" not in response.text
    assert (await client.get("/api/admin/audit")).status_code == 401
    page = await client.get("/admin/audit", headers={"accept": "text/html"})
    assert page.status_code in (303, 307)


async def _sign_in_page(client: httpx.AsyncClient, user: User) -> None:
    await client.get("/login")
    signed_in = await client.post(
        "/login",
        data={
            "email": user.email,
            "password": "correct horse battery",
            "csrf_token": client.cookies.get("cf_csrf"),
        },
    )
    assert signed_in.status_code in (200, 303), signed_in.text


async def test_the_page_shows_clinic_times_details_and_the_filtered_csv_link(
    client: httpx.AsyncClient, accounts: Accounts, runtime: Runtime
) -> None:
    admin_user = await accounts.make(Role.admin)
    doctor = await accounts.make(Role.doctor)
    await _write(
        runtime,
        at=datetime(2026, 3, 1, 20, 30, tzinfo=UTC),
        actor=doctor,
        details={"field": "allergies", "reason": "review"},
    )
    await _sign_in_page(client, admin_user)
    page = await client.get("/admin/audit", params={"actor_id": str(doctor.id)})
    assert page.status_code == 200
    assert "Mar 1, 2026, 23:30:00" in page.text  # 20:30 UTC is 23:30 in Nairobi
    assert "&#34;reason&#34;: &#34;review&#34;" in page.text  # the details, indented JSON
    assert f"/api/admin/audit.csv?actor_id={doctor.id}" in page.text
    assert 'href="/admin/audit"' in page.text  # the admin's navigation links here
    bad = await client.get("/admin/audit", params={"from": "not-a-date"})
    assert bad.status_code == 422


async def test_a_doctor_is_refused_the_page(client: httpx.AsyncClient, accounts: Accounts) -> None:
    await _sign_in_page(client, await accounts.make(Role.doctor))
    page = await client.get("/admin/audit")
    assert page.status_code == 403
    assert 'data-testid="audit-rows"' not in page.text

"""Attachments: images and PDF only, typed from their bytes, at most 10 MB, stored
encrypted behind the file store, announced as messages, downloaded with the same access."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import sentry_sdk
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.app import create_app
from clinicflow.config import Settings
from clinicflow.consultations.schemas import ConsultationStatus
from clinicflow.consultations.service import attachments
from clinicflow.core.audit import AuditEntry
from clinicflow.identity.schemas import Role
from clinicflow.runtime import Runtime
from tests.consultations.clinic import Clinic, Person
from tests.consultations.conftest import Published
from tests.factories import Accounts

pytestmark = pytest.mark.usefixtures("app")
S = ConsultationStatus
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00\x00\x00\rIHDR" + b"pixels" * 50
PDF = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\n"
LIMIT = 10 * 1024 * 1024


async def upload(
    clinic: Clinic,
    who: Person,
    consultation_id: uuid.UUID,
    filename: str,
    data: bytes,
    content_type: str = "image/png",
    client_id: str | None = None,
) -> httpx.Response:
    return await clinic.client.post(
        f"/api/consultations/{consultation_id}/attachments",
        files={"file": (filename, data, content_type)},
        data={"client_id": client_id} if client_id else None,
        headers=who.headers,
    )


async def active(clinic: Clinic) -> tuple[Person, Person, uuid.UUID]:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    consultation = await clinic.consultation(patient, doctor, S.active)
    return patient, doctor, consultation.id


async def test_an_image_is_announced_as_a_message_and_downloads_unchanged(
    clinic: Clinic, published: Published, settings: Settings
) -> None:
    patient, doctor, consultation_id = await active(clinic)
    response = await upload(clinic, patient, consultation_id, "rash.png", PNG)
    assert response.status_code == 201, response.text
    message = response.json()
    assert (message["kind"], message["seq"], message["body"]) == ("attachment", 2, "rash.png")
    attachment = message["attachment"]
    assert attachment["content_type"] == "image/png"
    assert attachment["size"] == len(PNG)
    assert attachment["filename"] == "rash.png"
    assert published.events[-1].data["attachment"] == attachment

    download = await clinic.client.get(attachment["url"], headers=doctor.headers)
    assert download.status_code == 200, download.text
    assert download.content == PNG
    assert download.headers["content-type"] == "image/png"
    assert download.headers["content-disposition"].startswith("attachment;")
    assert download.headers["x-content-type-options"] == "nosniff"

    # At rest the bytes are encrypted like message bodies.
    [stored] = [p for p in (settings.var_dir / "files").rglob("*") if p.is_file()]
    assert PNG not in stored.read_bytes()
    assert b"PNG" not in stored.read_bytes()


async def test_the_type_comes_from_the_bytes_not_the_name(clinic: Clinic) -> None:
    patient, _, consultation_id = await active(clinic)
    disguised = await upload(clinic, patient, consultation_id, "scan.png", PDF, "image/png")
    assert disguised.status_code == 201, disguised.text
    assert disguised.json()["attachment"]["content_type"] == "application/pdf"
    assert disguised.json()["attachment"]["filename"] == "scan.pdf"
    download = await clinic.client.get(
        disguised.json()["attachment"]["url"], headers=patient.headers
    )
    assert download.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize(
    ("filename", "data"),
    [
        ("setup.exe", b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 100),
        ("photo.png", b"MZ\x90\x00 a program named like a picture"),
        ("page.html", b"<html><script>alert(1)</script></html>"),
        ("drawing.svg", b"<svg xmlns='http://www.w3.org/2000/svg'></svg>"),
        ("empty.pdf", b""),
    ],
)
async def test_other_files_are_refused(clinic: Clinic, filename: str, data: bytes) -> None:
    patient, _, consultation_id = await active(clinic)
    response = await upload(clinic, patient, consultation_id, filename, data, "application/pdf")
    assert response.status_code == 415, response.text
    assert response.json()["error"]["code"] == "unsupported_file_type"


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"\xff\xd8\xff\xe0\x00\x10JFIF", "image/jpeg"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"GIF87a\x01\x00\x01\x00", "image/gif"),
        (b"RIFF\x24\x00\x00\x00WEBPVP8 ", "image/webp"),
    ],
)
async def test_each_accepted_image_type(clinic: Clinic, data: bytes, kind: str) -> None:
    patient, _, consultation_id = await active(clinic)
    response = await upload(clinic, patient, consultation_id, "picture", data)
    assert response.status_code == 201, response.text
    assert response.json()["attachment"]["content_type"] == kind
    assert response.json()["attachment"]["filename"].startswith("picture.")


async def test_a_file_of_exactly_10_mb_is_accepted_and_one_byte_more_refused(
    clinic: Clinic,
) -> None:
    patient, _, consultation_id = await active(clinic)
    just = PNG + b"\x00" * (LIMIT - len(PNG))
    assert (await upload(clinic, patient, consultation_id, "big.png", just)).status_code == 201
    too_big = await upload(clinic, patient, consultation_id, "big.png", just + b"\x00")
    assert too_big.status_code == 413, too_big.text
    assert too_big.json()["error"]["code"] == "file_too_large"


async def test_a_huge_body_is_refused_from_its_length_or_as_it_streams(clinic: Clinic) -> None:
    patient, _, consultation_id = await active(clinic)
    path = f"/api/consultations/{consultation_id}/attachments"
    declared = await clinic.client.post(
        path,
        content=b"",
        headers={
            **patient.headers,
            "content-type": "multipart/form-data; boundary=x",
            "content-length": str(50 * LIMIT),
        },
    )
    assert declared.status_code == 413

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        """A chunked body with no length that would never end."""
        nonlocal sent
        yield b'--x\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\n\r\n'
        while sent < 100 * LIMIT:
            sent += 1024 * 1024
            yield PNG[:8] + b"\x00" * (1024 * 1024 - 8)

    streamed = await clinic.client.post(
        path,
        content=endless(),
        headers={**patient.headers, "content-type": "multipart/form-data; boundary=x"},
    )
    assert streamed.status_code == 413
    assert sent <= LIMIT + 2 * 1024 * 1024  # it stopped reading soon after the limit


async def test_a_retried_upload_with_its_client_id_stores_one_file(
    clinic: Clinic, settings: Settings
) -> None:
    patient, _, consultation_id = await active(clinic)
    first = await upload(clinic, patient, consultation_id, "a.png", PNG, client_id="up-1")
    again = await upload(clinic, patient, consultation_id, "a.png", PNG, client_id="up-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    files = [p for p in (settings.var_dir / "files").rglob("*") if p.is_file()]
    assert len(files) == 1


async def test_uploads_follow_the_write_rules_and_downloads_the_read_rules(
    clinic: Clinic, session: AsyncSession
) -> None:
    patient, doctor = await clinic.patient(), await clinic.doctor()
    pending = await clinic.consultation(patient, doctor)
    refused = await upload(clinic, patient, pending.id, "a.png", PNG)
    assert refused.status_code == 409
    by_doctor = await upload(clinic, doctor, pending.id, "a.png", PNG)
    assert by_doctor.status_code == 201
    url = by_doctor.json()["attachment"]["url"]

    outsider = await clinic.doctor()
    receptionist = await clinic.staff(Role.receptionist)
    admin = await clinic.staff(Role.admin)
    for who in (outsider, receptionist):
        assert (await clinic.client.get(url, headers=who.headers)).status_code == 404
    assert (await clinic.client.get(url)).status_code == 404
    assert (await upload(clinic, admin, pending.id, "a.png", PNG)).status_code == 403
    other = await clinic.consultation(patient, doctor, S.active)
    wrong_pair = url.replace(str(pending.id), str(other.id))
    assert (await clinic.client.get(wrong_pair, headers=patient.headers)).status_code == 404

    assert (await clinic.client.get(url, headers=patient.headers)).status_code == 200
    assert (await clinic.client.get(url, headers=admin.headers)).status_code == 200
    audited = await session.scalar(
        select(func.count())
        .select_from(AuditEntry)
        .where(AuditEntry.action == "consultation.attachment_read")
    )
    assert audited == 1  # the admin's download; the patient's own is not audited


@pytest.mark.parametrize(
    "request_kwargs",
    [
        {"data": {"client_id": "no-file"}},
        {"json": {"file": "not multipart"}},
        {"files": {"other": ("a.png", PNG, "image/png")}},
    ],
)
async def test_an_upload_without_a_file_field_is_422(
    clinic: Clinic, request_kwargs: dict[str, object]
) -> None:
    patient, _, consultation_id = await active(clinic)
    response = await clinic.client.post(
        f"/api/consultations/{consultation_id}/attachments",
        headers=patient.headers,
        **request_kwargs,  # type: ignore[arg-type]
    )
    assert response.status_code == 422, response.text


@pytest.mark.parametrize(
    ("given", "kind", "expected"),
    [
        ("scan.png", "application/pdf", "scan.pdf"),
        ("report", "application/pdf", "report.pdf"),
        ("my.report", "application/pdf", "my.report.pdf"),
        ("../../etc/passwd", "image/png", "passwd.png"),
        ("C:\\Users\\me\\photo.JPG", "image/jpeg", "photo.jpg"),
        ("line\r\nbreak.gif", "image/gif", "linebreak.gif"),
        ("...", "image/png", "file.png"),
        ("résumé.pdf", "application/pdf", "résumé.pdf"),
    ],
)
def test_file_names_are_made_safe_and_truthful(given: str, kind: str, expected: str) -> None:
    assert attachments._clean_filename(given, kind) == expected


async def test_a_non_ascii_name_survives_the_download_header(clinic: Clinic) -> None:
    patient, _, consultation_id = await active(clinic)
    response = await upload(clinic, patient, consultation_id, "ripoti ya daktari ✓.pdf", PDF)
    download = await clinic.client.get(
        response.json()["attachment"]["url"], headers=patient.headers
    )
    disposition = download.headers["content-disposition"]
    assert 'filename="ripoti ya daktari .pdf"' in disposition
    assert "filename*=UTF-8''ripoti%20ya%20daktari%20%E2%9C%93.pdf" in disposition


def test_quotes_cannot_break_out_of_the_download_header() -> None:
    from clinicflow.consultations.api import _content_disposition

    disposition = _content_disposition('a"; filename="evil.html\\.pdf')
    assert disposition.startswith('attachment; filename="a; filename=evil.html.pdf"; ')
    assert disposition.endswith("filename*=UTF-8''a%22%3B%20filename%3D%22evil.html%5C.pdf")


def test_the_local_store_refuses_keys_that_leave_its_root(tmp_path: Path) -> None:
    from clinicflow.consultations.storage import LocalFileStore

    store = LocalFileStore(tmp_path)
    for key in ("../outside", "/etc/passwd", "a/../../b", "A/B", ""):
        with pytest.raises(ValueError, match="bad storage key"):
            store._path(key)


async def test_an_upload_is_answered_when_something_read_its_body_first(
    settings: Settings,
) -> None:
    """Sentry's request capture (on with its default options, as the error-tracking test
    left it for the rest of a run) reads a small body before the route does; the route must
    read it from the request, not wait for it again (the whole-suite upload hang)."""
    sentry_sdk.init(max_request_body_size="always")  # no DSN: nothing is sent
    application = create_app(settings)
    runtime: Runtime = application.state.runtime
    transport = httpx.ASGITransport(app=application)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            clinic = Clinic(http, Accounts(runtime), runtime)
            patient, _, consultation_id = await active(clinic)
            async with asyncio.timeout(20):
                response = await upload(clinic, patient, consultation_id, "rash.png", PNG)
            assert response.status_code == 201, response.text
            assert response.json()["body"] == "rash.png"
    finally:
        sentry_sdk.init(default_integrations=False, auto_enabling_integrations=False)
        await runtime.close()

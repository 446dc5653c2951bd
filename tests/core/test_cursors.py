"""Page cursors: what `encode` makes, `decode` reads back; anything else is a 422."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest

from clinicflow.core import cursors
from clinicflow.core.errors import AppError, ErrorCode


def test_a_cursor_round_trips() -> None:
    at, ident = datetime(2026, 3, 2, 9, 15, tzinfo=UTC), uuid.uuid4()
    assert cursors.decode(cursors.encode(at, ident)) == (at, ident)


# Fixed, not uuid4(): parallel workers must collect the same test ids.
SOME_ID = uuid.UUID("0e78b982-346e-4f62-9a1a-136825913dee")


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        base64.urlsafe_b64encode(b"2026-03-02T09:15:00|not-a-uuid").decode(),
        # A time without a zone: the database column would refuse it with a 500.
        base64.urlsafe_b64encode(f"2026-03-02T09:15:00|{SOME_ID}".encode()).decode(),
        # Before year 1 in UTC: converting it for the database overflowed into a 500.
        base64.urlsafe_b64encode(f"0001-01-01T00:00:00+00:01|{SOME_ID}".encode()).decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_anything_else_is_refused_on_the_cursor_field(cursor: str) -> None:
    with pytest.raises(AppError) as refused:
        cursors.decode(cursor)
    assert refused.value.code is ErrorCode.validation_error
    assert refused.value.details == {"field": "cursor"}

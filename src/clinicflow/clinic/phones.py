"""Phone numbers: read as the clinic's region writes them, stored in E.164, shown nationally.

A receptionist in Nairobi types "0712 345 678" or "712345678"; a patient may type
"+254 712 345678". All three are one number, so all three are stored as "+254712345678"
(one account, one sign-in code budget) and shown back as "0712 345678". A number from
another country is shown in international format, since its national form would read as
a local number.

The region is the clinic's (`ClinicProfile.phone_region`). Validators run deep inside
pydantic, where no session is at hand, so the region of the clinic answering the current
request or job is a context variable (`use_region`), set where the clinic is read for it,
the way the reader's language is.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberFormat, PhoneNumberType

DEFAULT_REGION = "KE"
# Longer than any number with its separators; a longer text is not a phone.
MAX_TYPED_LENGTH = 32

_region: ContextVar[str] = ContextVar("clinicflow_phone_region", default=DEFAULT_REGION)

# ASCII digits and the separators people type, nothing else: phonenumbers would read "７"
# or "٧" as a seven, and letters as a keypad word ("1-800-FLOWERS") or an extension
# ("ext. 5"), so each such spelling could become an account of its own, outside the
# per-phone limits.
TYPED = re.compile(r"\+?\(?[0-9][0-9 \-().]*", re.ASCII)


def current_region() -> str:
    return _region.get()


@contextmanager
def use_region(region: str) -> Iterator[None]:
    """Read and show numbers in `region` (the clinic's) for the rest of this block."""
    token = _region.set(region if region in phonenumbers.SUPPORTED_REGIONS else DEFAULT_REGION)
    try:
        yield
    finally:
        _region.reset(token)


def to_e164(typed: str, region: str | None = None) -> str:
    """The stored form of a number typed in the national or international form of
    `region` (the current one when left out). Raises ValueError for anything that is not
    a valid number there."""
    region = region or current_region()
    text = typed.strip()
    if len(text) > MAX_TYPED_LENGTH or not TYPED.fullmatch(text):
        raise ValueError(f"not a phone number; write it like {example(region)}")
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException:
        raise ValueError(f"not a phone number; write it like {example(region)}") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"not a valid phone number; write it like {example(region)}")
    return phonenumbers.format_number(number, PhoneNumberFormat.E164)


def shown(stored: str | None, region: str | None = None) -> str:
    """How a stored number reads to people: national format for the clinic's own region,
    international for another; text that is not a number comes back as it was (a form
    showing what someone typed)."""
    if not stored:
        return ""
    if not TYPED.fullmatch(stored):
        return stored
    try:
        number = phonenumbers.parse(stored, region or current_region())
    except NumberParseException:
        return stored
    if not phonenumbers.is_valid_number(number):
        return stored
    own = phonenumbers.region_code_for_number(number) == (region or current_region())
    style = PhoneNumberFormat.NATIONAL if own else PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(number, style)


def example(region: str | None = None) -> str:
    """A mobile number as people of `region` write it, for placeholders and hints."""
    region = region or current_region()
    number = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if number is None:
        return "+254712345678"
    return phonenumbers.format_number(number, PhoneNumberFormat.NATIONAL)

"""Every group of roles the product names, in one place.

A permission is decided in a domain's `access.py`; the groups it decides with are declared
here, so "who counts as staff?" has one answer.
"""

from __future__ import annotations

from clinicflow.identity.schemas import Role

STAFF = frozenset({Role.doctor, Role.receptionist, Role.admin})
"""Everyone who works at the clinic: signs in by email and password, never by phone code."""

FRONT_DESK = frozenset({Role.receptionist, Role.admin})
"""Who registers patients, books on their behalf and runs the desk's queues."""

AUDITED_READERS = frozenset({Role.doctor, Role.admin})
"""Staff whose every read of a medical record or consultation writes an audit row."""

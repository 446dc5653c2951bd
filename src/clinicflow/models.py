"""Imports every domain's tables, so `Base.metadata` is complete for Alembic and tests."""

from clinicflow.core.audit import AuditEntry, AuditHead
from clinicflow.db import Base
from clinicflow.identity.models import (
    DoctorProfile,
    LoginSession,
    OtpCode,
    PatientProfile,
    RefreshToken,
    User,
)

metadata = Base.metadata

__all__ = [
    "AuditEntry",
    "AuditHead",
    "DoctorProfile",
    "LoginSession",
    "OtpCode",
    "PatientProfile",
    "RefreshToken",
    "User",
    "metadata",
]

"""Imports every domain's tables, so `Base.metadata` is complete for Alembic and tests."""

from clinicflow.analytics.models import DailyFigures, RolledDay
from clinicflow.assistant.models import BookingConversation, DraftRow, MemoryRow
from clinicflow.calls.models import Call
from clinicflow.clinic.models import ClinicSettings
from clinicflow.consultations.models import Attachment, Consultation, Message
from clinicflow.core.audit import AuditEntry, AuditHead
from clinicflow.db import Base
from clinicflow.identity.models import (
    DoctorProfile,
    Invitation,
    LoginSession,
    OtpCode,
    PatientProfile,
    PatientProfileVersion,
    RefreshToken,
    Specialty,
    User,
)
from clinicflow.notifications.models import (
    Attempt,
    Delivery,
    Notification,
    NotificationAttachment,
    Preference,
    PushSubscription,
)
from clinicflow.operations.heartbeat import WorkerHeartbeat
from clinicflow.queue.models import Queue, QueueEntry, QueueRules, Reassignment
from clinicflow.realtime.models import UserEvent, UserEventHead
from clinicflow.records.models import (
    ClinicalItem,
    ClinicalItemVersion,
    Prescription,
    VisitNoteVersion,
)
from clinicflow.scheduling.models import Appointment, Availability, CalendarFeed, SlotHold
from clinicflow.sync.models import AppliedMutation, Cursor

metadata = Base.metadata

__all__ = [
    "AppliedMutation",
    "Appointment",
    "Attachment",
    "Attempt",
    "AuditEntry",
    "AuditHead",
    "Availability",
    "BookingConversation",
    "CalendarFeed",
    "Call",
    "ClinicSettings",
    "ClinicalItem",
    "ClinicalItemVersion",
    "Consultation",
    "Cursor",
    "DailyFigures",
    "Delivery",
    "DoctorProfile",
    "DraftRow",
    "Invitation",
    "LoginSession",
    "MemoryRow",
    "Message",
    "Notification",
    "NotificationAttachment",
    "OtpCode",
    "PatientProfile",
    "PatientProfileVersion",
    "Preference",
    "Prescription",
    "PushSubscription",
    "Queue",
    "QueueEntry",
    "QueueRules",
    "Reassignment",
    "RefreshToken",
    "RolledDay",
    "SlotHold",
    "Specialty",
    "User",
    "UserEvent",
    "UserEventHead",
    "VisitNoteVersion",
    "WorkerHeartbeat",
    "metadata",
]

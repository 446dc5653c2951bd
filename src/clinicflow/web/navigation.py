"""The navigation each role sees; later features add their entries here."""

from __future__ import annotations

from dataclasses import dataclass

from clinicflow.i18n import gettext as _
from clinicflow.identity.schemas import Role


@dataclass(frozen=True)
class NavItem:
    href: str
    label: str


def navigation_for(role: Role | None) -> list[NavItem]:
    if role is None:
        return []
    items = [NavItem("/home", _("Home"))]
    if role is Role.patient:
        items.append(NavItem("/queue", _("Waiting room")))
        items.append(NavItem("/book", _("Book a doctor")))
        items.append(NavItem("/appointments", _("My appointments")))
        items.append(NavItem("/consultations", _("Consultations")))
        items.append(NavItem("/records", _("My records")))
        items.append(NavItem("/me", _("My details")))
    elif role is Role.doctor:
        items.append(NavItem("/doctor/queue", _("My queue")))
        items.append(NavItem("/schedule", _("My schedule")))
        items.append(NavItem("/appointments", _("Appointments")))
        items.append(NavItem("/consultations", _("Consultations")))
        items.append(NavItem("/analytics", _("Analytics")))
    elif role is Role.receptionist:
        items.append(NavItem("/desk/queue", _("Queues")))
        items.append(NavItem("/desk/book", _("Book for a patient")))
        items.append(NavItem("/consultations", _("In consultation")))
    elif role is Role.admin:
        items.append(NavItem("/admin/users", _("Users")))
        items.append(NavItem("/admin/deliveries", _("Deliveries")))
        items.append(NavItem("/admin/audit", _("Audit log")))
        items.append(NavItem("/admin/clinic", _("Clinic settings")))
        items.append(NavItem("/analytics", _("Analytics")))
    return items

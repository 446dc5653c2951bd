"""The rules of scheduling: weeks, free slots, holds, appointments and the waitlist.

Other domains and the routes call the verbs re-exported here
(`from clinicflow.scheduling import service as scheduling`). One module per thing with a
lifecycle; each name answers "where is the rule for X?":

- `availability`: a doctor's week, read and replaced.
- `free_time`: which times are free, and whether one can still be taken (the stored side
  of the pure arithmetic in `scheduling.slots`).
- `holds`: a slot kept for a patient for a few minutes.
- `appointments`: booking, cancelling, rescheduling, listing.
- `lifecycle`: the appointment's transition table and the one function that applies it.
- `visits`: the appointment on its day, moved by the queue through `lifecycle`.
- `waitlist`: waiting for a freed time, offers, and passing them on.
- `calendars`: .ics files and private feeds.
- `reads`: what the queue, consultations, the medical record and the reminders read.
- `announcements`: `availability.changed` on the doctor's topic after a change commits.

Following `POST /api/appointments`: `appointments.book` -> `holds.chosen_patient` ->
`free_time.bookable_end` -> `lifecycle.upcoming_count` -> `waitlist.take_offer` ->
`holds.claim_slot` -> `free_time.insert_or_taken` -> `announcements.announce`.

Double booking is prevented by the database (a unique index over doctor and start for
live appointments, and one over doctor and start for holds); the checks only give the
common refusals a clear answer before the index has to. A waitlist offer is an ordinary
hold, so the same index keeps a freed slot from being offered twice.
"""

from __future__ import annotations

from clinicflow.scheduling.service.appointments import book as book
from clinicflow.scheduling.service.appointments import cancel as cancel
from clinicflow.scheduling.service.appointments import get_appointment as get_appointment
from clinicflow.scheduling.service.appointments import list_appointments as list_appointments
from clinicflow.scheduling.service.appointments import reschedule as reschedule
from clinicflow.scheduling.service.availability import get_availability as get_availability
from clinicflow.scheduling.service.availability import set_availability as set_availability
from clinicflow.scheduling.service.calendars import appointment_ics as appointment_ics
from clinicflow.scheduling.service.calendars import calendar_feed as calendar_feed
from clinicflow.scheduling.service.calendars import create_calendar_feed as create_calendar_feed
from clinicflow.scheduling.service.calendars import revoke_calendar_feed as revoke_calendar_feed
from clinicflow.scheduling.service.free_time import free_slots as free_slots
from clinicflow.scheduling.service.holds import get_hold as get_hold
from clinicflow.scheduling.service.holds import hold_slot as hold_slot
from clinicflow.scheduling.service.holds import release_hold as release_hold
from clinicflow.scheduling.service.reads import appointments_near as appointments_near
from clinicflow.scheduling.service.reads import appointments_of_patient as appointments_of_patient
from clinicflow.scheduling.service.reads import booked_starting_between as booked_starting_between
from clinicflow.scheduling.service.reads import find_appointment as find_appointment
from clinicflow.scheduling.service.reads import (
    has_kept_or_upcoming_appointment as has_kept_or_upcoming_appointment,
)
from clinicflow.scheduling.service.reads import weekly_availability as weekly_availability
from clinicflow.scheduling.service.today import appointments_today as appointments_today
from clinicflow.scheduling.service.today import next_appointment as next_appointment
from clinicflow.scheduling.service.visits import begin_appointment_visit as begin_appointment_visit
from clinicflow.scheduling.service.visits import check_in_appointment as check_in_appointment
from clinicflow.scheduling.service.visits import complete_appointment as complete_appointment
from clinicflow.scheduling.service.visits import mark_appointment_missed as mark_appointment_missed
from clinicflow.scheduling.service.visits import readmit_appointment as readmit_appointment
from clinicflow.scheduling.service.visits import (
    restore_appointment_status as restore_appointment_status,
)
from clinicflow.scheduling.service.waitlist import Waiting as Waiting
from clinicflow.scheduling.service.waitlist import join_waitlist as join_waitlist
from clinicflow.scheduling.service.waitlist import leave_waitlist as leave_waitlist
from clinicflow.scheduling.service.waitlist import my_waitlist as my_waitlist
from clinicflow.scheduling.service.waitlist import offer_freed_slot as offer_freed_slot
from clinicflow.scheduling.service.waitlist import pass_on_lapsed_offers as pass_on_lapsed_offers

"""Booking pages: patients book and cancel, doctors keep their week and see their list, and
the front desk books for a patient. `router` gathers them for `app.py`.

Every rule is the scheduling service's. These routes turn forms into its arguments, and its
answers (and refusals) into pages. Times are shown on the clinic's clock, which each page
names, like every time a person reads; only the doctor's weekly-hours editor (`schedule`)
writes in the doctor's own zone, because that is the clock the doctor's week is written in.

- `booking`: the patient chooses a doctor and a time, confirms, or joins the waitlist.
- `appointments`: the list of appointments (and a patient's waitlist places), cancelling.
- `schedule`: the doctor's weekly schedule.
- `desk`: the front desk books for a patient.
- `week` (the week of free times) and `confirm` (the confirm page and booking from it) are
  shared by the patient's pages and the desk's; `people`, `formatting` and `fields` are what
  every page draws and reads with.
"""

from __future__ import annotations

from fastapi import APIRouter

from clinicflow.routing import TransactionalRoute
from clinicflow.scheduling.pages import appointments, booking, desk, schedule

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
for _pages in (booking, appointments, schedule, desk):
    router.include_router(_pages.router)

"""Queue pages: the patient's waiting room, the front desk's queues, the doctor's queue, the
arrival (check-in) page and the public display board.

Every rule is the queue service's. These routes turn forms into its arguments and its
answers (and refusals) into pages. The desk, the doctor's queue and the board are drawn on
the server, then kept current by drawing their live block again alone (a fragment) when the
queue's topic announces a change (`static/js/queue-staff.js`) or every few seconds
(`queue-board.js`); the patient's waiting room, with its countdown and its "It's your turn",
is kept current by `static/js/queue.js`. Each page has its module; `router` gathers them
for `app.py`.
"""

from fastapi import APIRouter

from clinicflow.queue.pages import arrival, board, desk, doctor, rules, waiting_room
from clinicflow.routing import TransactionalRoute

router = APIRouter(route_class=TransactionalRoute, include_in_schema=False)
router.include_router(waiting_room.router)
router.include_router(arrival.router)
router.include_router(desk.router)
router.include_router(doctor.router)
router.include_router(board.router)
router.include_router(rules.router)

"""The rules of the live queue: tokens, order, position and wait, and the doctor's controls.

Every change to a queue starts by bumping its row's `revision` with `UPDATE … RETURNING`,
which also takes the row's lock: changes to one queue run one after another, on SQLite and
PostgreSQL alike, and each leaves a numbered state. Tokens are a counter on the same row,
so no number is given twice or skipped, and the database's unique `(queue_id, token)` and
"one active place per patient" indexes stand behind both rules. After the transaction
commits, `queue.updated` tells every follower of `queue:<doctor_id>:<date>` the new state.

One module per thing with its own rules (docs/queue.md has the map); the verbs other code
calls are re-exported here, so `from clinicflow.queue import service as queues` and
`queues.call_next(...)` keep working.
"""

from clinicflow.queue.service.by_hand import cancel as cancel
from clinicflow.queue.service.by_hand import move as move
from clinicflow.queue.service.controls import call_next as call_next
from clinicflow.queue.service.controls import finish as finish
from clinicflow.queue.service.controls import finish_and_call_next as finish_and_call_next
from clinicflow.queue.service.controls import no_show as no_show
from clinicflow.queue.service.controls import recall as recall
from clinicflow.queue.service.controls import set_paused as set_paused
from clinicflow.queue.service.controls import undo as undo
from clinicflow.queue.service.days import queue_of as queue_of
from clinicflow.queue.service.joining import appointments_to_check_in as appointments_to_check_in
from clinicflow.queue.service.joining import check_in as check_in
from clinicflow.queue.service.joining import check_in_code as check_in_code
from clinicflow.queue.service.joining import check_in_opens_at as check_in_opens_at
from clinicflow.queue.service.joining import walk_in as walk_in
from clinicflow.queue.service.lifecycle import ACTIVE as ACTIVE
from clinicflow.queue.service.meeting_link import set_meet_link as set_meet_link
from clinicflow.queue.service.missed import expire_skipped as expire_skipped
from clinicflow.queue.service.missed import requeue as requeue
from clinicflow.queue.service.patient import ready as ready
from clinicflow.queue.service.presence import doctor_arrived as doctor_arrived
from clinicflow.queue.service.presence import mark_doctors_away as mark_doctors_away
from clinicflow.queue.service.preview import DoctorPreview as DoctorPreview
from clinicflow.queue.service.preview import PreviewPlace as PreviewPlace
from clinicflow.queue.service.preview import preview_order as preview_order
from clinicflow.queue.service.queue_state import SNAPSHOT as SNAPSHOT
from clinicflow.queue.service.queue_state import State as State
from clinicflow.queue.service.queue_state import state as state
from clinicflow.queue.service.queue_state import topic as topic
from clinicflow.queue.service.reading import board as board
from clinicflow.queue.service.reading import has_place_with as has_place_with
from clinicflow.queue.service.reading import meeting_link_for as meeting_link_for
from clinicflow.queue.service.reading import my_entries as my_entries
from clinicflow.queue.service.reading import my_places as my_places
from clinicflow.queue.service.reading import patient_name as patient_name
from clinicflow.queue.service.reading import queue_for as queue_for
from clinicflow.queue.service.reading import queue_out as queue_out
from clinicflow.queue.service.reading import reassignments as reassignments
from clinicflow.queue.service.reading import snapshot_for as snapshot_for
from clinicflow.queue.service.reading import visible_names as visible_names
from clinicflow.queue.service.rules import rules_for as rules_for
from clinicflow.queue.service.rules import rules_from as rules_from
from clinicflow.queue.service.rules import rules_values as rules_values
from clinicflow.queue.service.rules import set_rules as set_rules
from clinicflow.queue.service.today import QueueToday as QueueToday
from clinicflow.queue.service.today import queues_today as queues_today

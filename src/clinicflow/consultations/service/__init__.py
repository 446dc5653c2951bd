"""The rules of consultations: the lifecycle, messages, attachments, notes and recordings.

One module per thing, so the file name says where a rule lives:

- `lifecycle`: the transition table, `move` (the only writer of a status) and the verbs
  that move a consultation (start, accept, decline, end, the queue's visits), and `join`;
- `sending`: the send path, how messages are numbered and stored, one or many at once;
- `messages`: reading the conversation (history, catch-up), audited for staff;
- `attachments`: files, known by their bytes, stored encrypted;
- `notes`: the doctor's private notes and the recording details;
- `reading`: one consultation, the lists, the front desk;
- `describing`: the answer and event shapes, and the topics events go to;
- `checks`: what input is accepted;
- `closing`: the hooks a consultation's end runs in the domains above (calls);
- `for_records`, `for_assistant`: what those two domains read and add.

Other domains import this package (`from clinicflow.consultations import service as
consultations`) and call the verbs re-exported here.
"""

from clinicflow.consultations.service.attachments import add_attachment as add_attachment
from clinicflow.consultations.service.attachments import file_too_large as file_too_large
from clinicflow.consultations.service.attachments import read_attachment as read_attachment
from clinicflow.consultations.service.closing import Closed as Closed
from clinicflow.consultations.service.closing import closed_info as closed_info
from clinicflow.consultations.service.describing import describe as describe
from clinicflow.consultations.service.describing import topic as topic
from clinicflow.consultations.service.for_assistant import (
    add_assistant_outcome as add_assistant_outcome,
)
from clinicflow.consultations.service.for_assistant import ended_between as ended_between
from clinicflow.consultations.service.for_assistant import message_at as message_at
from clinicflow.consultations.service.for_assistant import (
    share_private_answer as share_private_answer,
)
from clinicflow.consultations.service.for_assistant import transcript as transcript
from clinicflow.consultations.service.for_records import consultation_for as consultation_for
from clinicflow.consultations.service.for_records import (
    patient_consultations as patient_consultations,
)
from clinicflow.consultations.service.for_records import patient_messages as patient_messages
from clinicflow.consultations.service.for_records import treats as treats
from clinicflow.consultations.service.lifecycle import LIVE as LIVE
from clinicflow.consultations.service.lifecycle import accept as accept
from clinicflow.consultations.service.lifecycle import cancel_visit as cancel_visit
from clinicflow.consultations.service.lifecycle import decline as decline
from clinicflow.consultations.service.lifecycle import end as end
from clinicflow.consultations.service.lifecycle import end_if_open as end_if_open
from clinicflow.consultations.service.lifecycle import join as join
from clinicflow.consultations.service.lifecycle import open_for_visit as open_for_visit
from clinicflow.consultations.service.lifecycle import open_in_person as open_in_person
from clinicflow.consultations.service.lifecycle import start as start
from clinicflow.consultations.service.messages import history as history
from clinicflow.consultations.service.messages import messages_after as messages_after
from clinicflow.consultations.service.notes import read_notes as read_notes
from clinicflow.consultations.service.notes import set_recording as set_recording
from clinicflow.consultations.service.notes import write_notes as write_notes
from clinicflow.consultations.service.reading import desk as desk
from clinicflow.consultations.service.reading import get_consultation as get_consultation
from clinicflow.consultations.service.reading import list_consultations as list_consultations
from clinicflow.consultations.service.sending import Outgoing as Outgoing
from clinicflow.consultations.service.sending import send_message as send_message
from clinicflow.consultations.service.sending import send_messages as send_messages
from clinicflow.consultations.service.today import pending_requests as pending_requests
from clinicflow.consultations.service.today import visits_of_doctor as visits_of_doctor

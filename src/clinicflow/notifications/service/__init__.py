"""The one way to tell a person something, and the dispatcher's side of the outbox.

One module per job:

- `writing`: `notify`, which writes a notification and its deliveries in the caller's
  transaction (the notifications table is the outbox);
- `triggers`: what other domains call (a booking, a queue place, a consultation, a chat);
- `milestones`: the queue's first 10 / first 3 / next;
- `channel_choice`: which channels one notification goes to;
- `bell`: the in-app list, the unread count, marking read;
- `preferences`, `push_subscriptions`: what each person chose, and their browsers;
- `push_endpoints`: which push endpoints the worker may post to (the SSRF checks);
- `send_limits`: how many SMS, email and push messages a person is sent per hour;
- `deliveries`: the admin's delivery log, its attempts, "Retry now" and "Retry failed";
- `fallover`: an urgent message failing on one channel also sent on the person's others;
- `lifecycle`: a delivery's statuses and the moves between them;
- `dispatch`: claiming due deliveries, recording outcomes, backoff;
- `senders`: the process's sender (`send` after commit, the development outbox) and the
  sign-in code's way out (`CodeBySms`, identity's `CodeSender`).

Other domains import this package (`from clinicflow.notifications import service as
notifications`) and call the verbs re-exported here.
"""

from __future__ import annotations

from clinicflow.notifications.schemas import Channel as Channel
from clinicflow.notifications.schemas import Kind as Kind
from clinicflow.notifications.schemas import Priority as Priority
from clinicflow.notifications.service.attention import FailedDeliveries as FailedDeliveries
from clinicflow.notifications.service.attention import failed_deliveries as failed_deliveries
from clinicflow.notifications.service.bell import LIST_LIMIT as LIST_LIMIT
from clinicflow.notifications.service.bell import list_for as list_for
from clinicflow.notifications.service.bell import mark_all_read as mark_all_read
from clinicflow.notifications.service.bell import mark_read as mark_read
from clinicflow.notifications.service.bell import unread_count as unread_count
from clinicflow.notifications.service.bell import user_topic as user_topic
from clinicflow.notifications.service.channel_choice import ALLOWED_KEY as ALLOWED_KEY
from clinicflow.notifications.service.channel_choice import allowed_channels as allowed_channels
from clinicflow.notifications.service.channel_choice import clinic_channels as clinic_channels
from clinicflow.notifications.service.channel_choice import effective_channels as effective_channels
from clinicflow.notifications.service.deliveries import attempts_of as attempts_of
from clinicflow.notifications.service.deliveries import deliveries as deliveries
from clinicflow.notifications.service.deliveries import delivery_attempts as delivery_attempts
from clinicflow.notifications.service.deliveries import retry_failed as retry_failed
from clinicflow.notifications.service.deliveries import retry_now as retry_now
from clinicflow.notifications.service.dispatch import MAX_ATTEMPTS as MAX_ATTEMPTS
from clinicflow.notifications.service.dispatch import (
    URGENT_FALLOVER_FAILURES as URGENT_FALLOVER_FAILURES,
)
from clinicflow.notifications.service.dispatch import Outcome as Outcome
from clinicflow.notifications.service.dispatch import Outgoing as Outgoing
from clinicflow.notifications.service.dispatch import PushTarget as PushTarget
from clinicflow.notifications.service.dispatch import claim_due as claim_due
from clinicflow.notifications.service.dispatch import record as record
from clinicflow.notifications.service.dispatch import retry_delay as retry_delay
from clinicflow.notifications.service.milestones import MILESTONES as MILESTONES
from clinicflow.notifications.service.milestones import queue_positions as queue_positions
from clinicflow.notifications.service.preferences import Preferences as Preferences
from clinicflow.notifications.service.preferences import preferences as preferences
from clinicflow.notifications.service.preferences import set_preferences as set_preferences
from clinicflow.notifications.service.push_endpoints import Resolver as Resolver
from clinicflow.notifications.service.push_endpoints import system_resolver as system_resolver
from clinicflow.notifications.service.push_subscriptions import (
    add_push_subscription as add_push_subscription,
)
from clinicflow.notifications.service.send_limits import SendLimits as SendLimits
from clinicflow.notifications.service.senders import SENDER_KEY as SENDER_KEY
from clinicflow.notifications.service.senders import CodeBySms as CodeBySms
from clinicflow.notifications.service.senders import DevOutbox as DevOutbox
from clinicflow.notifications.service.senders import LogOnlySender as LogOnlySender
from clinicflow.notifications.service.senders import Sender as Sender
from clinicflow.notifications.service.senders import SentMessage as SentMessage
from clinicflow.notifications.service.senders import send as send
from clinicflow.notifications.service.senders import session_info as session_info
from clinicflow.notifications.service.triggers import AppointmentLike as AppointmentLike
from clinicflow.notifications.service.triggers import ConsultationLike as ConsultationLike
from clinicflow.notifications.service.triggers import EntryLike as EntryLike
from clinicflow.notifications.service.triggers import about_appointment as about_appointment
from clinicflow.notifications.service.triggers import about_consultation as about_consultation
from clinicflow.notifications.service.triggers import about_entries as about_entries
from clinicflow.notifications.service.triggers import about_entry as about_entry
from clinicflow.notifications.service.triggers import chat_messages as chat_messages
from clinicflow.notifications.service.writing import already_told as already_told
from clinicflow.notifications.service.writing import notify as notify

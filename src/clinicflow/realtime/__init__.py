"""Realtime: topics, the socket hub, brokers (in-process or Redis) and `publish_on_commit`."""

from clinicflow.realtime.events import Event
from clinicflow.realtime.publish import present_users_of, publish_on_commit
from clinicflow.realtime.reauthorize import reauthorize
from clinicflow.realtime.user_events import publish_to_user

__all__ = ["Event", "present_users_of", "publish_on_commit", "publish_to_user", "reauthorize"]

"""Realtime: topics, the socket hub, brokers (in-process or Redis) and `publish_on_commit`."""

from clinicflow.realtime.events import Event
from clinicflow.realtime.publish import present_users_of, publish_on_commit
from clinicflow.realtime.reauthorize import reauthorize

__all__ = ["Event", "present_users_of", "publish_on_commit", "reauthorize"]

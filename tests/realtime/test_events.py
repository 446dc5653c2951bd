"""The event shape: one frame text from the publisher to every follower's socket."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from clinicflow.realtime.events import Event

texts = st.text(max_size=40)


@given(topic=texts, type=texts, seq=st.none() | st.integers(min_value=0), body=texts)
def test_a_decoded_event_is_passed_on_as_it_was_published(
    topic: str, type: str, seq: int | None, body: str
) -> None:
    """Followers get the publisher's text (not encoded again in every process), even when
    another publisher spaced it differently."""
    compact = Event(topic=topic, type=type, seq=seq, data={"body": body}).encode()
    spaced = json.dumps(json.loads(compact), indent=1)
    for published in (compact, spaced):
        for received in (published, published.encode()):
            event = Event.decode(received)
            assert (event.topic, event.type, event.seq, dict(event.data)) == (
                topic,
                type,
                seq,
                {"body": body},
            )
            assert event.encode() == published

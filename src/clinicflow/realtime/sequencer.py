"""Putting one topic's durable events back in `seq` order for one follower.

Events can arrive twice (a catch-up overlapping live delivery) or ahead of their
predecessor (two processes published in the other order). The sequencer passes on each
`seq` once, in order, holding early ones until the gap closes or the hub gives up on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from clinicflow.realtime.events import Event


@dataclass
class Sequencer:
    last_seq: int | None = None
    early: dict[int, Event] = field(default_factory=dict)

    @property
    def waiting(self) -> bool:
        """Whether events are held behind a gap."""
        return bool(self.early)

    def admit(self, event: Event) -> list[Event]:
        """The events to deliver now, in order, after `event` arrived."""
        if event.seq is None:
            return [event]
        last = self.last_seq
        if last is not None and event.seq <= last:
            return []
        if last is not None and event.seq > last + 1:
            self.early.setdefault(event.seq, event)
            return []
        self.last_seq = event.seq
        ready = [event]
        while self.last_seq + 1 in self.early:
            self.last_seq += 1
            ready.append(self.early.pop(self.last_seq))
        return ready

    def give_up_gap(self) -> list[Event]:
        """Release what is held, in order, when the missing events will not come (the
        database has nothing in between)."""
        ready = [self.early[seq] for seq in sorted(self.early)]
        self.early = {}
        if ready:
            self.last_seq = ready[-1].seq
        return ready

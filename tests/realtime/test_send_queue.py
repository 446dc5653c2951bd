"""The send queue's writers: every send is stored once and answered, in arrival order
within each batch, by no more writers at once than allowed, and none is left waiting."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from clinicflow.identity.schemas import Role
from clinicflow.realtime.connections import Connection, Member
from clinicflow.realtime.sends import PendingSend, SendQueue

CONNECTION = Connection(
    member=Member(id=uuid.uuid4(), name="Test", role=Role.patient),
    login_id=uuid.uuid4(),
    buffer_size=10,
    abort=lambda code: None,
)


def pending(number: int) -> PendingSend:
    return PendingSend(
        connection=CONNECTION,
        topic=None,  # type: ignore[arg-type]  # the store below never looks at it
        key=str(number),
        payload={"number": number},
        language="en",
        answer=asyncio.get_running_loop().create_future(),
    )


@settings(max_examples=60, deadline=None)
@given(
    writers=st.integers(min_value=1, max_value=4),
    arrivals=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=40),
    store_ticks=st.lists(st.integers(min_value=0, max_value=3), min_size=1, max_size=8),
)
def test_every_send_is_stored_once_by_at_most_the_allowed_writers(
    writers: int, arrivals: list[int], store_ticks: list[int]
) -> None:
    """Sends arrive a few loop turns apart while batches take a few turns to store."""

    async def scenario() -> None:
        stored: list[int] = []
        batches: list[list[int]] = []
        busy = 0
        most_busy = 0

        async def store(batch: list[PendingSend]) -> None:
            nonlocal busy, most_busy
            busy += 1
            most_busy = max(most_busy, busy)
            numbers = [int(send.key) for send in batch]
            batches.append(numbers)
            for _ in range(store_ticks[len(batches) % len(store_ticks)]):
                await asyncio.sleep(0)
            stored.extend(numbers)
            busy -= 1
            for send in batch:
                send.settle({"stored": int(send.key)})

        queue = SendQueue(store, max_batch=5, writers=writers)
        sends = []
        for number, pause in enumerate(arrivals):
            for _ in range(pause):
                await asyncio.sleep(0)
            send = pending(number)
            sends.append(send)
            queue.put(send)
        answers: list[Any] = await asyncio.wait_for(
            asyncio.gather(*(send.answer for send in sends)), timeout=5
        )
        assert answers == [{"stored": number} for number in range(len(arrivals))]
        assert sorted(stored) == list(range(len(arrivals)))
        assert most_busy <= writers
        assert all(batch == sorted(batch) and len(batch) <= 5 for batch in batches)

    asyncio.run(scenario())


async def test_sends_waiting_at_shutdown_are_cancelled() -> None:
    started = asyncio.Event()

    async def store(batch: list[PendingSend]) -> None:
        started.set()
        await asyncio.sleep(3600)

    queue = SendQueue(store, max_batch=1, writers=2)
    sends = [pending(number) for number in range(4)]
    for send in sends:
        queue.put(send)
    await started.wait()
    for writer in list(queue._writers):
        writer.cancel()
    results = await asyncio.gather(*(send.answer for send in sends), return_exceptions=True)
    assert all(isinstance(result, asyncio.CancelledError) for result in results)

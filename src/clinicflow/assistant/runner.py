"""Answering in the background: the assistant follows every stored message and answers the
ones that mention it, streaming the answer to the consultation as it is produced.

It watches the hub's events (`Hub.tap`) rather than the send path, so sending a message
stays exactly as fast and as simple as before. With Redis every process sees every
message; a claim (`SET NX`) makes exactly one of them answer, and the unique outcome of each
question (see service/asking.py) holds even if two did. Streaming events are ephemeral:

- `assistant.thinking` `{question_seq, asker_id}` as soon as the work starts;
- `assistant.delta` `{question_seq, text}` for each piece, in order;
- then the stored outcome arrives as an ordinary `message.created` (client id
  `assistant:<question_seq>`), or `assistant.cancelled` when the asker cancels.

The doctor's questions are their private thread: stored, streamed and answered on
`user:<doctor_id>` only (the question arrives there too). A draft prescription streams there
as well, and ends with `assistant.draft`.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from typing import Any

import structlog

from clinicflow.assistant import access, memory_stores
from clinicflow.assistant import service as assistant
from clinicflow.assistant.requests import Provider
from clinicflow.identity import service as identity
from clinicflow.realtime.events import Event
from clinicflow.runtime import Runtime

log = structlog.get_logger(__name__)

CLAIM_SECONDS = 3600


class Assistant:
    def __init__(self, runtime: Runtime, provider: Provider) -> None:
        self.runtime = runtime
        self.provider = provider
        self._running: dict[tuple[uuid.UUID, int], asyncio.Task[None]] = {}
        self._claimed: set[tuple[uuid.UUID, int]] = set()

    def attach(self) -> None:
        self.runtime.hub.tap(self.observe)

    async def start(self) -> None:
        """Receive events from the broker even before any socket subscribes, so a process
        serving only the API still answers."""
        await self.runtime.broker.start()

    async def stop(self) -> None:
        for task in list(self._running.values()):
            task.cancel()
        await self.idle()

    async def idle(self) -> None:
        """Wait until every answer in progress in this process has finished."""
        while self._running:
            await asyncio.gather(*self._running.values(), return_exceptions=True)

    def observe(self, event: Event) -> None:
        kind, _sep, key = event.topic.partition(":")
        if kind == "user" and isinstance(event.data, dict) and "consultation_id" in event.data:
            # The doctor's private thread: its questions and cancels come on their own topic.
            key = str(event.data["consultation_id"])
        elif kind != "consultation":
            return
        if event.type == "message.created":
            self._maybe_answer(key, event.data)
        elif event.type == "assistant.cancelled":
            with contextlib.suppress(ValueError, KeyError, TypeError):
                task = self._running.get((uuid.UUID(key), int(event.data["question_seq"])))
                if task is not None:
                    task.cancel()

    def _maybe_answer(self, key: str, data: Any) -> None:
        if data.get("kind") != "text" or not access.can_ask(str(data.get("sender_role"))):
            return
        if not assistant.mentions(str(data.get("body", ""))):
            return
        consultation_id, seq = uuid.UUID(key), int(data["seq"])
        sender_id = uuid.UUID(data["sender_id"])
        task = asyncio.get_running_loop().create_task(
            self._answer(consultation_id, seq, sender_id), name=f"assistant-{key}-{seq}"
        )
        self._running[(consultation_id, seq)] = task
        task.add_done_callback(lambda _t: self._running.pop((consultation_id, seq), None))

    async def _claim(self, consultation_id: uuid.UUID, seq: int) -> bool:
        redis = self.runtime.redis
        if redis is None:
            # Without Redis, events reach this process only: it is the only one answering.
            if (consultation_id, seq) in self._claimed:
                return False
            self._claimed.add((consultation_id, seq))
            return True
        claimed = await redis.set(
            f"clinicflow:assistant:claim:{consultation_id}:{seq}", "1", nx=True, ex=CLAIM_SECONDS
        )
        return bool(claimed)

    async def _answer(self, consultation_id: uuid.UUID, seq: int, sender_id: uuid.UUID) -> None:
        try:
            if not await self._claim(consultation_id, seq):
                return
            plan, asker = await self._begin(consultation_id, seq, sender_id)
            if plan is None or asker is None:
                return
            await self._stream_and_store(plan, asker)
        except asyncio.CancelledError:
            log.info("assistant.cancelled", consultation_id=str(consultation_id), seq=seq)
        except Exception:
            log.exception("assistant.failed", consultation_id=str(consultation_id), seq=seq)

    async def _begin(
        self, consultation_id: uuid.UUID, seq: int, sender_id: uuid.UUID
    ) -> tuple[assistant.Plan | None, Any]:
        runtime = self.runtime
        async with runtime.transaction() as session:
            found = await identity.users(session, [sender_id])
            if not found or not found[0].is_active:
                return None, None
            asker = found[0]
            plan = await assistant.begin(
                session=session,
                actor=asker,
                store=memory_stores.store_for(runtime.settings, runtime.redis, session),
                limiter=runtime.limiter,
                settings=runtime.settings,
                provider_name=self.provider.name,
                consultation_id=consultation_id,
                question_seq=seq,
            )
        return plan, asker

    def _topic(self, plan: assistant.Plan) -> str:
        if plan.private:
            return f"user:{plan.doctor_id}"
        return assistant.topic(plan.consultation_id)

    async def _publish(self, plan: assistant.Plan, kind: str, **data: Any) -> None:
        body = {
            "consultation_id": str(plan.consultation_id),
            "question_seq": plan.question_seq,
            # On the doctor's topic: a draft streams into the panel, a private answer inline.
            "draft": plan.draft,
        }
        await self.runtime.broker.publish(
            [Event(topic=self._topic(plan), type=kind, data={**body, **data})]
        )

    async def _stream_and_store(self, plan: assistant.Plan, asker: Any) -> None:
        await self._publish(plan, "assistant.thinking", asker_id=str(plan.asker_id))
        pieces: list[str] = []
        failure: str | None = None
        try:
            async with asyncio.timeout(self.runtime.settings.assistant_timeout_seconds):
                async for piece in self.provider.answer(plan.request):
                    pieces.append(piece)
                    await self._publish(plan, "assistant.delta", text=piece)
        except TimeoutError:
            failure = assistant.Notice.timeout
        except Exception:
            log.exception("assistant.provider_failed", provider=self.provider.name)
            failure = assistant.Notice.failed
        async with self.runtime.transaction() as session:
            if failure is not None:
                await assistant.fail(session=session, actor=asker, plan=plan, word=failure)
            else:
                await assistant.finish(
                    session=session, actor=asker, plan=plan, text="".join(pieces)
                )

"""The worker's side of notifications: the dispatcher that sends due deliveries.

The dispatcher claims a batch in one short transaction, sends it with no transaction
open (a slow provider must not hold a database lock, nor SQLite's single writer), then
records the answers in another. A worker that dies in between leaves its claimed rows to
come due again when their lease runs out, so nothing is lost; a provider that takes an
idempotency key sees the resend as the same message, others may get it twice (at least
once, never zero times).

The appointment reminders are scheduling's job (`scheduling.jobs.send_reminders`): it owns
the appointments and asks this domain to tell their patients.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
from collections.abc import Mapping

import httpx
import structlog

from clinicflow.notifications import channels as channel_adapters
from clinicflow.notifications import service as notifications
from clinicflow.notifications.adapters import ChannelSender, DeliveryFailed
from clinicflow.runtime import Runtime

log = structlog.get_logger(__name__)


class Dispatcher:
    def __init__(
        self,
        runtime: Runtime,
        channels: Mapping[notifications.Channel, ChannelSender] | None = None,
        *,
        rng: random.Random | None = None,
    ) -> None:
        self.runtime = runtime
        self.settings = runtime.settings
        self.client = httpx.AsyncClient()
        if channels is None:
            channels = channel_adapters.build(
                self.settings, outbox=runtime.outbox, client=self.client, resolver=runtime.resolver
            )
        self.channels = channels
        self.rng = rng
        self.limit = asyncio.Semaphore(self.settings.notification_concurrency)

    async def close(self) -> None:
        await self.client.aclose()

    async def run_once(self, limit: int | None = None) -> int:
        """Claim, send and record one batch; the number of deliveries tried."""
        async with self.runtime.transaction() as session:
            claimed = await notifications.claim_due(
                session=session,
                limit=limit or self.settings.notification_batch_size,
                lease_seconds=self.settings.notification_lease_seconds,
            )
        if not claimed:
            return 0
        outcomes = await asyncio.gather(*(self._send(message) for message in claimed))
        async with self.runtime.transaction() as session:
            await notifications.record(session=session, outcomes=outcomes, rng=self.rng)
        for message, outcome in zip(claimed, outcomes, strict=True):
            # The operator's line: which delivery, how it went; never the message's text.
            # The error only where there is one: `error=None` on every success was noise.
            failure = {} if outcome.sent else {"error": outcome.error}
            log.info(
                "notifications.delivered" if outcome.sent else "notifications.delivery_failed",
                delivery_id=str(message.delivery_id),
                channel=message.channel.value,
                attempt=message.attempt,
                **failure,
            )
        return len(claimed)

    async def _send(self, message: notifications.Outgoing) -> notifications.Outcome:
        outcome = functools.partial(notifications.Outcome, message.delivery_id, message.attempt)
        adapter = self.channels.get(message.channel)
        if adapter is None:
            error = f"the {message.channel.value} channel is not configured"
            return outcome(error=error, permanent=True)
        async with self.limit:
            try:
                sent = await adapter.send(message)
            except DeliveryFailed as exc:
                return outcome(
                    error=exc.error,
                    permanent=exc.permanent,
                    gone=exc.gone,
                    status_code=exc.status_code,
                )
            except Exception as exc:
                log.exception("notifications.send_failed", channel=message.channel.value)
                return outcome(error=repr(exc))
        return outcome(provider_id=sent.provider_id, gone=sent.gone)

    async def run_forever(self, stop: asyncio.Event) -> None:
        """Send until `stop` is set: straight on while batches come full, else every
        `notification_poll_seconds`."""
        batch = self.settings.notification_batch_size
        while not stop.is_set():
            try:
                tried = await self.run_once()
            except Exception:
                log.exception("notifications.dispatch_failed")
                tried = 0
            if tried < batch:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(
                        stop.wait(), timeout=self.settings.notification_poll_seconds
                    )


async def dispatch_forever(runtime: Runtime, stop: asyncio.Event) -> None:
    dispatcher = Dispatcher(runtime)
    try:
        await dispatcher.run_forever(stop)
    finally:
        await dispatcher.close()

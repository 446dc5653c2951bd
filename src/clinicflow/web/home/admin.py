"""The administrator's home: today's figures across every queue (visits, waiting now,
completed, no-shows) and what needs attention: deliveries that failed, and an altered audit
chain.

The audit chain is checked by `core.audit.verify`, which reads every row of the trail: on a
busy clinic's year that is hundreds of thousands of rows, far too much for every page view
(and the live block is drawn again on every queue change). So the answer is kept for
`CHAIN_CHECK_MINUTES` in the process (one `ChainChecks` per app), one check runs at a time
(others wait for its answer rather than walking the trail again), and the page says when it
was checked. `clinicflow audit verify` and the audit log page give a fresh answer at any time.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.core import audit, clock
from clinicflow.notifications import service as notifications
from clinicflow.web.home.page import HomeRequest, live
from clinicflow.web.home.receptionist import desk_figures

CHAIN_CHECK_MINUTES = 10
# Failed deliveries older than this are the delivery log's business, not today's attention.
DELIVERY_DAYS = 7


@dataclass(frozen=True)
class ChainCheck:
    checked_at: datetime
    result: audit.VerifyResult


class ChainChecks:
    """The latest check of the audit chain, reused for `CHAIN_CHECK_MINUTES`."""

    def __init__(self) -> None:
        self._last: ChainCheck | None = None
        self._lock = asyncio.Lock()

    def _fresh(self, now: datetime) -> ChainCheck | None:
        last = self._last
        if last is not None and now - last.checked_at < timedelta(minutes=CHAIN_CHECK_MINUTES):
            return last
        return None

    async def latest(self, session: AsyncSession) -> ChainCheck:
        found = self._fresh(clock.now())
        if found is not None:
            return found
        async with self._lock:
            found = self._fresh(clock.now())
            if found is None:
                found = ChainCheck(clock.now(), await audit.verify(session))
                self._last = found
            return found


def chain_checks(home: HomeRequest) -> ChainChecks:
    """The app's one `ChainChecks` (an app per test, so each test starts unchecked)."""
    state = home.request.app.state
    checks: ChainChecks | None = getattr(state, "home_chain_checks", None)
    if checks is None:
        checks = ChainChecks()
        state.home_chain_checks = checks
    return checks


async def context(home: HomeRequest) -> dict[str, Any]:
    _doctors, today = await desk_figures(home)
    failed = await notifications.failed_deliveries(
        session=home.session,
        actor=home.viewer,
        since=clock.now() - timedelta(days=DELIVERY_DAYS),
    )
    chain = await chain_checks(home).latest(home.session)
    return {
        "figures": {
            "visits": sum(q.joined for q in today),
            "waiting": sum(q.waiting for q in today),
            "completed": sum(q.completed for q in today),
            "no_shows": sum(q.no_shows for q in today),
        },
        "failed": failed,
        "delivery_days": DELIVERY_DAYS,
        "chain": chain.result,
        "chain_checked_at": home.time(chain.checked_at),
        "zone": home.zone_label(),
        "live": live([queue.topic for queue in today]),
    }

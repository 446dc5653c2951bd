"""Sign-in throttles: how many attempts a key may spend in a window.

Each attempt is counted first and then checked, in the rate limiter (memory or Redis), and
a success gives its attempt back, so only failures use up a budget.
"""

from __future__ import annotations

from dataclasses import dataclass

from clinicflow.core.errors import RateLimited
from clinicflow.core.ratelimit import RateLimiter


@dataclass(frozen=True)
class Budget:
    """At most `limit` counted events per `window_seconds` for one key."""

    key: str
    limit: int
    window_seconds: int


async def take(limiter: RateLimiter, *budgets: Budget) -> None:
    """Count this attempt against every budget, then refuse if one is overspent.

    Counting before checking (an atomic increment) is what stops many concurrent attempts
    from all reading "under the limit" and slipping through together.
    """
    for budget in budgets:
        hits, retry_after = await limiter.hit(budget.key, budget.window_seconds)
        if hits > budget.limit:
            raise RateLimited(retry_after)


async def give_back(limiter: RateLimiter, budget: Budget) -> None:
    await limiter.release(budget.key, budget.window_seconds)

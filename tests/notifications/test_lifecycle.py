"""A delivery's statuses move only as `lifecycle.TRANSITIONS` allows: a loaded row through
`lifecycle.move`, which refuses anything else, and the dispatcher's conditional UPDATEs,
whatever its providers answer and in whatever order."""

from __future__ import annotations

import functools
import itertools
import uuid
from collections.abc import Awaitable, Callable

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from clinicflow.core.clock import FrozenClock
from clinicflow.core.errors import AppError, ErrorCode
from clinicflow.identity.models import User
from clinicflow.identity.schemas import Role
from clinicflow.notifications import service as notifications
from clinicflow.notifications.models import Delivery
from clinicflow.notifications.schemas import Channel, DeliveryStatus, Kind
from clinicflow.notifications.service import lifecycle
from clinicflow.runtime import Runtime
from tests.factories import Accounts
from tests.notifications.helpers import notify

pytestmark = pytest.mark.usefixtures("app")

PAIRS = list(itertools.product(DeliveryStatus, repeat=2))
# What a provider can answer for a claimed attempt: "lost" is a worker that died before
# recording anything; "late_*" answer for the first attempt after later claims took it.
ANSWERS = ("lost", "failed", "late_failure", "refused", "late_success", "sent")


@pytest.mark.parametrize(("current", "to"), PAIRS, ids=[f"{a}->{b}" for a, b in PAIRS])
def test_move_applies_a_move_of_the_table_and_refuses_every_other(
    current: DeliveryStatus, to: DeliveryStatus
) -> None:
    delivery = Delivery(status=current)
    if to in lifecycle.TRANSITIONS[current]:
        lifecycle.move(delivery, to, refusal="no")
        assert delivery.status is to
        return
    with pytest.raises(AppError) as refused:
        lifecycle.move(delivery, to, refusal="Not from here.")
    assert refused.value.code is ErrorCode.invalid_transition
    assert refused.value.status == 409
    assert (refused.value.message, refused.value.details) == (
        "Not from here.",
        {"status": current.value},
    )
    assert delivery.status is current


def test_a_sent_delivery_is_final_and_only_due_statuses_are_claimed() -> None:
    assert lifecycle.TRANSITIONS[DeliveryStatus.sent] == frozenset()
    assert set(lifecycle.DUE) == {DeliveryStatus.pending, DeliveryStatus.failed}
    assert set(lifecycle.TRANSITIONS) == set(DeliveryStatus)


async def _row(runtime: Runtime, delivery_id: uuid.UUID) -> Delivery:
    async with runtime.transaction(write=False) as session:
        row = await session.get_one(Delivery, delivery_id)
        session.expunge(row)
        return row


async def _sms_of(runtime: Runtime, notification_id: uuid.UUID) -> uuid.UUID:
    async with runtime.transaction(write=False) as session:
        found = await session.scalar(
            select(Delivery.id).where(
                Delivery.notification_id == notification_id, Delivery.channel == Channel.sms
            )
        )
    assert found is not None
    return found


async def _claim(runtime: Runtime, delivery_id: uuid.UUID, claims: list[int]) -> None:
    async with runtime.transaction() as session:
        claimed = await notifications.claim_due(session=session, limit=1000, lease_seconds=60)
    claims.extend(c.attempt for c in claimed if c.delivery_id == delivery_id)


async def _answer(runtime: Runtime, delivery_id: uuid.UUID, answer: str, claims: list[int]) -> None:
    if not claims or answer == "lost":
        return
    attempt = claims[0] if answer.startswith("late_") else claims[-1]
    outcome = {
        "sent": notifications.Outcome(delivery_id, attempt, provider_id="SM1"),
        "late_success": notifications.Outcome(delivery_id, attempt, provider_id="SM0"),
        "failed": notifications.Outcome(delivery_id, attempt, error="503"),
        "late_failure": notifications.Outcome(delivery_id, attempt, error="timeout"),
        "refused": notifications.Outcome(delivery_id, attempt, error="401", permanent=True),
    }[answer]
    async with runtime.transaction() as session:
        await notifications.record(session=session, outcomes=[outcome])


async def _retry(runtime: Runtime, admin: User, delivery_id: uuid.UUID) -> None:
    async with runtime.transaction() as session:
        await notifications.retry_now(session=session, actor=admin, delivery_id=delivery_id)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
# Every move of the table at least once, whatever the random rounds happen to reach:
@example(rounds=[("failed", False, False), ("sent", False, False)])  # failed -> sent
@example(rounds=[("refused", False, False), ("late_success", False, False)])  # gave_up -> sent
@example(rounds=[("refused", False, True), ("failed", False, True)])  # both -> pending
@example(rounds=[("failed", True, False)] * notifications.MAX_ATTEMPTS)  # the last failure gives up
@example(rounds=[("lost", True, False)] * (notifications.MAX_ATTEMPTS + 1))  # unanswered: gives up
@example(rounds=[("lost", True, False), ("late_failure", False, False)])  # a stale failure
@given(
    rounds=st.lists(
        st.tuples(st.sampled_from(ANSWERS), st.booleans(), st.booleans()),
        min_size=1,
        max_size=14,
    )
)
async def test_any_sequence_of_dispatch_outcomes_moves_only_as_the_table_allows(
    runtime: Runtime,
    accounts: Accounts,
    frozen_clock: FrozenClock,
    rounds: list[tuple[str, bool, bool]],
) -> None:
    """Rounds of the dispatcher's life: a worker claims what is due, a provider answers
    (or the worker dies first, or an answer comes late), maybe time passes, maybe an admin
    presses "Retry now". After every step the delivery has moved only as the table allows."""
    admin = await accounts.make(Role.admin)
    patient = await accounts.make(Role.patient)
    delivery_id = await _sms_of(runtime, await notify(runtime, patient.id, Kind.queue_top3))
    claims: list[int] = []
    for answer, time_passes, admin_retries in rounds:
        steps: list[Callable[[], Awaitable[None]]] = [
            functools.partial(_claim, runtime, delivery_id, claims),
            functools.partial(_answer, runtime, delivery_id, answer, claims),
        ]
        if time_passes:
            steps.append(_passing_time(frozen_clock))
        for step in steps:
            before = await _row(runtime, delivery_id)
            await step()
            _check(before, await _row(runtime, delivery_id))
        if admin_retries:
            before = await _row(runtime, delivery_id)
            if lifecycle.may_move(before.status, DeliveryStatus.pending):
                await _retry(runtime, admin, delivery_id)
            else:
                with pytest.raises(AppError) as refused:
                    await _retry(runtime, admin, delivery_id)
                assert refused.value.code is ErrorCode.invalid_transition
            _check(before, await _row(runtime, delivery_id))


def _passing_time(frozen_clock: FrozenClock) -> Callable[[], Awaitable[None]]:
    """An hour and a second: every lease has run out and every backoff has passed."""

    async def advance() -> None:
        frozen_clock.advance(hours=1, seconds=1)

    return advance


def _check(before: Delivery, after: Delivery) -> None:
    assert after.status is before.status or lifecycle.may_move(before.status, after.status), (
        before.status,
        after.status,
    )
    assert after.attempts <= notifications.MAX_ATTEMPTS
    waiting = after.status in lifecycle.DUE
    assert (after.next_attempt_at is not None) is waiting, after.status
    if after.status is DeliveryStatus.sent:
        assert after.provider_id is not None
        assert after.error is None

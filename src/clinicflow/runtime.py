"""The long-lived resources of one process, built once from settings and shared by the
server, the command line and the tests."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from redis.asyncio import BlockingConnectionPool, Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from clinicflow import db, realtime
from clinicflow.clinic import service as clinic
from clinicflow.config import Environment, Settings
from clinicflow.core import security
from clinicflow.core.observability import Metrics, watch_slow_queries
from clinicflow.core.outages import Outage
from clinicflow.core.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from clinicflow.identity import service as identity
from clinicflow.notifications import channels
from clinicflow.notifications import service as notifications
from clinicflow.realtime import publish
from clinicflow.realtime.broker import Broker, MemoryBroker, RedisBroker
from clinicflow.realtime.events import Event
from clinicflow.realtime.hub import Hub

# Batches of chat sends stored at once by one process on PostgreSQL (realtime.sends.SendQueue).
SERVER_DATABASE_SEND_WRITERS = 2


@dataclass
class Runtime:
    settings: Settings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    limiter: RateLimiter
    broker: Broker
    hub: Hub = field(init=False)
    redis: Redis | None = None
    outbox: notifications.DevOutbox | None = field(default=None)
    sqlite_writers: asyncio.Lock | None = field(default=None)
    # This process's Prometheus metrics (the app's /metrics, the worker's jobs).
    metrics: Metrics = field(default_factory=Metrics)
    # How push endpoints' host names are resolved before the worker may post to them; a
    # test puts a stub here to make a name resolve to loopback.
    resolver: notifications.Resolver = field(default=notifications.system_resolver)

    @asynccontextmanager
    async def transaction(self, *, write: bool = True) -> AsyncIterator[AsyncSession]:
        """One unit of work; `write=False` for reads, which never wait for a writer."""
        async with db.transaction(
            self.sessionmaker, write=write, write_lock=self.sqlite_writers
        ) as session:
            yield session

    def __post_init__(self) -> None:
        self.hub = Hub(
            broker=self.broker,
            transaction=self.transaction,
            gap_wait_seconds=self.settings.realtime_gap_wait_seconds,
            login_recheck_seconds=self.settings.ws_login_recheck_seconds,
            send_stall_seconds=self.settings.ws_send_stall_seconds,
            send_writers=1 if self.settings.is_sqlite else SERVER_DATABASE_SEND_WRITERS,
        )

    async def close(self) -> None:
        await self.hub.close()
        await self.broker.close()
        if self.redis is not None:
            await self.redis.aclose(close_connection_pool=True)
        await self.engine.dispose()


class CountingPublisher:
    """The broker as services publish through it, counting each event by type."""

    def __init__(self, broker: Broker, metrics: Metrics) -> None:
        self.broker = broker
        self.metrics = metrics

    @property
    def presence(self) -> object:
        # `publish.present_users_of` asks the publisher for the broker's presence.
        return getattr(self.broker, "presence", None)

    async def publish(self, events: list[Event]) -> None:
        await self.broker.publish(events)
        for event in events:
            self.metrics.events_published.labels(event.type).inc()


def build_runtime(settings: Settings, *, session_info: Mapping[str, Any] | None = None) -> Runtime:
    """The process's resources. `session_info` adds what a higher layer hands a lower
    domain in every session (`handins.session_info`, from the app and the CLI)."""
    if settings.is_sqlite:
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    security.configure_password_hashing(
        time_cost=settings.password_hash_time_cost, memory_kib=settings.password_hash_memory_kib
    )
    security.configure_field_encryption(
        keys=settings.field_encryption_keys, secret_key=settings.secret_key
    )
    pool: dict[str, int] = {}
    # SQLite files too: with SQLAlchemy's default of 5 kept and 10 more opened and closed
    # as needed, 64 requests at once opened and closed connections (a thread, a file, four
    # PRAGMAs each) all the time; that was a third of a read's time (docs/performance.md).
    # An in-memory database has one connection (StaticPool), which takes no size.
    if not settings.is_sqlite or ":memory:" not in settings.database_url:
        pool = {
            "pool_size": settings.database_pool_size,
            "max_overflow": settings.database_max_overflow,
        }
    engine = db.create_engine(settings.database_url, **pool)
    redis = None
    # One view of Redis's health for the whole process: one warning per outage, and every
    # part takes its fallback at once while it lasts.
    outage = Outage("redis")
    if settings.redis_url:
        # A blocking pool makes a burst wait for a free connection instead of failing.
        # One immediate retry replaces a pooled connection Redis dropped (it restarted);
        # redis-py's default of ten with backoff would hold each call for seconds while
        # Redis is down, where every caller has a fallback to take at once.
        redis = Redis(
            connection_pool=BlockingConnectionPool.from_url(
                settings.redis_url,
                max_connections=settings.redis_max_connections,
                timeout=settings.redis_pool_timeout_seconds,
                socket_connect_timeout=settings.redis_connect_timeout_seconds,
                retry=Retry(NoBackoff(), 1),
            )
        )
    limiter: RateLimiter = RedisRateLimiter(redis, outage=outage) if redis else MemoryRateLimiter()
    outbox = None
    sender: notifications.Sender = notifications.LogOnlySender()
    if settings.env is not Environment.production:
        outbox = notifications.DevOutbox(settings.dev_outbox_size)
        sender = outbox
    elif (provider := channels.provider_sender(settings)) is not None:
        sender = provider
    broker: Broker
    if redis is None:
        broker = MemoryBroker(presence_ttl=settings.presence_ttl_seconds)
    else:
        database = redis.connection_pool.connection_kwargs.get("db", 0)
        broker = RedisBroker(
            redis,
            channel=f"clinicflow:{database}:events",
            presence_ttl=settings.presence_ttl_seconds,
            outage=outage,
        )
    metrics = Metrics()
    watch_slow_queries(engine, metrics, settings.slow_query_seconds)
    allowed = notifications.clinic_channels(settings)
    info = {
        **notifications.session_info(
            sender,
            allowed,
            notifications.SendLimits(
                limiter,
                per_user=settings.notification_sends_per_user_per_hour,
                per_address=settings.notification_sends_per_address_per_hour,
            ),
        ),
        # Identity texts the sign-in code through this without importing notifications.
        **identity.code_sender_info(notifications.CodeBySms(sender)),
        **publish.session_info(CountingPublisher(broker, metrics)),
        # The environment's clinic: the settings until an admin saves them.
        **clinic.session_info(settings),
        # Identity tells open sockets of a role change or deactivation through this.
        **identity.access_changed_info(realtime.reauthorize),
        # The logins and doctors this process answered reads with, dropped when it writes them.
        **identity.held_info(),
        **(session_info or {}),
    }
    return Runtime(
        settings=settings,
        engine=engine,
        sessionmaker=db.create_sessionmaker(engine, info=info),
        limiter=limiter,
        broker=broker,
        redis=redis,
        outbox=outbox,
        metrics=metrics,
        sqlite_writers=asyncio.Lock() if settings.is_sqlite else None,
    )

"""The assistant's periodic work for `clinicflow.worker`: forgetting old consultations."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from clinicflow.assistant import memory_stores
from clinicflow.assistant import service as assistant
from clinicflow.runtime import Runtime

FORGET_SECONDS = 3600.0


async def forget_closed_memory(runtime: Runtime, session: AsyncSession) -> None:
    settings = runtime.settings
    await assistant.forget_closed(
        session=session,
        store=memory_stores.store_for(settings, runtime.redis, session),
        retention_days=settings.assistant_memory_retention_days,
        ttl_days=settings.assistant_memory_ttl_days,
    )

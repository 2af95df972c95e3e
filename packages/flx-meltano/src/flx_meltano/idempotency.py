"""Idempotency keys of run requests: a repeat of a key within its lifetime gets the same
execution. The key's row is written before the execution in the same transaction, so two
requests racing with one key cannot both create one (the second waits on the row's primary
key, then sees the first's execution)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from flx_meltano.tables import idempotency_keys

#: How long a key names its execution.
KEY_LIFETIME = timedelta(hours=24)


class IdempotencyKeyRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def reserve(
        self, key: str, pipeline_id: str, execution_id: str, now: datetime
    ) -> tuple[str, str] | None:
        """Tie ``key`` to ``execution_id`` (not yet created); or, when a request within the
        key's lifetime holds it, that request's (pipeline id, execution id)."""
        try:
            async with self.session.begin_nested():
                await self.session.execute(
                    insert(idempotency_keys).values(
                        key=key, pipeline_id=pipeline_id, execution_id=execution_id, created_at=now
                    )
                )
            return None
        except IntegrityError:
            pass
        row = (
            await self.session.execute(
                select(
                    idempotency_keys.c.pipeline_id,
                    idempotency_keys.c.execution_id,
                    idempotency_keys.c.created_at,
                ).where(idempotency_keys.c.key == key)
            )
        ).one()
        created = (
            row.created_at if row.created_at.tzinfo else row.created_at.replace(tzinfo=now.tzinfo)
        )
        if now - created < KEY_LIFETIME:
            return row.pipeline_id, row.execution_id
        await self.session.execute(  # expired: the key starts a new run
            update(idempotency_keys)
            .where(idempotency_keys.c.key == key)
            .values(pipeline_id=pipeline_id, execution_id=execution_id, created_at=now)
        )
        return None

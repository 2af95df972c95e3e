"""Two processes (here: two connections) writing the embedded SQLite database at once."""

from __future__ import annotations

import asyncio
from pathlib import Path

from flx_core.infrastructure.persistence import make_engine


async def test_a_transaction_that_reads_then_writes_waits_instead_of_failing(
    tmp_path: Path,
) -> None:
    engine = make_engine(f"sqlite+aiosqlite:///{tmp_path / 'flx.db'}")
    try:
        async with engine.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (n INTEGER)")

        async def other_writer() -> None:
            async with engine.begin() as conn:
                await conn.exec_driver_sql("INSERT INTO t VALUES (2)")

        async with engine.connect() as first:
            transaction = await first.begin()
            await first.exec_driver_sql("SELECT count(*) FROM t")
            writer = asyncio.create_task(other_writer())
            await asyncio.sleep(0.3)
            # The other writer waits for this transaction (with a deferred BEGIN it would
            # have committed by now, and the INSERT below would fail: database is locked).
            assert not writer.done()
            await first.exec_driver_sql("INSERT INTO t VALUES (1)")
            await transaction.commit()
        await asyncio.wait_for(writer, 30)
        async with engine.connect() as conn:
            rows = (await conn.exec_driver_sql("SELECT n FROM t ORDER BY rowid")).all()
        assert [r[0] for r in rows] == [1, 2]
    finally:
        await engine.dispose()

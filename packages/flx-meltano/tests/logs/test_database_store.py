"""The database log store keeps a log's bytes in order, in rows of at most 1 MiB, and reads
any range of them back, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
from itertools import pairwise
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from flx_meltano.engine.paths import log_path
from flx_meltano.logs import DatabaseLogStore, FileLogStore
from flx_meltano.logs.database import CHUNK_BYTES, GROW_BYTES
from flx_meltano.tables import log_chunks


async def rows_of(
    sessions: async_sessionmaker[AsyncSession], execution_id: str
) -> list[tuple[int, int, int]]:
    """(seq, offset, length) of the rows holding an execution's log."""
    async with sessions() as session:
        rows = await session.execute(
            select(log_chunks.c.seq, log_chunks.c["offset"], log_chunks.c.data)
            .where(log_chunks.c.execution_id == execution_id)
            .order_by(log_chunks.c.seq)
        )
        return [(seq, offset, len(data)) for seq, offset, data in rows]


async def test_appends_read_back_by_offset_and_size_is_the_end(db_store: DatabaseLogStore) -> None:
    assert await db_store.size("e1") is None
    empty = await db_store.read("e1")
    assert (empty.data, empty.next_offset) == (b"", 0)
    await db_store.append("e1", 0, b"hello\n")
    await db_store.append("e1", 6, b"world\n")
    await db_store.append("other", 0, b"not mine\n")
    assert await db_store.size("e1") == 12
    assert (await db_store.read("e1")).data == b"hello\nworld\n"
    middle = await db_store.read("e1", 3, 5)
    assert (middle.data, middle.offset, middle.next_offset) == (b"lo\nwo", 3, 8)
    rest = await db_store.read("e1", 8)
    assert (rest.data, rest.next_offset) == (b"rld\n", 12)
    at_end = await db_store.read("e1", 12)
    assert (at_end.data, at_end.offset, at_end.next_offset) == (b"", 12, 12)
    assert (await db_store.read("e1", 40)).data == b""


async def test_an_append_repeated_stores_nothing_twice_and_a_gap_is_refused(
    db_store: DatabaseLogStore,
) -> None:
    await db_store.append("e1", 0, b"one\n")
    await db_store.append("e1", 0, b"one\n")  # the answer to the first was lost
    await db_store.append("e1", 2, b"e\ntwo\n")  # overlaps: only "two\n" is new
    assert (await db_store.read("e1")).data == b"one\ntwo\n"
    with pytest.raises(ValueError, match="holds 8 bytes: cannot append at 9"):
        await db_store.append("e1", 9, b"x")
    assert await db_store.size("e1") == 8


async def test_a_10_mb_line_round_trips_in_rows_of_at_most_1_mib(
    db_store: DatabaseLogStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    line = os.urandom(5 * 1024 * 1024).hex().encode() + b"\n"  # 10 MiB and a newline
    await db_store.append("big", 0, b"before\n")
    await db_store.append("big", 7, line)
    await db_store.append("big", 7 + len(line), b"after\n")
    whole = b"before\n" + line + b"after\n"
    assert await db_store.size("big") == len(whole)
    assert (await db_store.read("big")).data == whole
    rows = await rows_of(sessions, "big")
    assert all(length <= CHUNK_BYTES for _, _, length in rows)
    assert len(rows) >= len(line) // CHUNK_BYTES
    # Rows follow each other without gaps or overlaps.
    assert [seq for seq, _, _ in rows] == list(range(len(rows)))
    assert all(a[1] + a[2] == b[1] for a, b in pairwise(rows))
    # A read starting inside one row and ending inside the next.
    boundary = rows[2][1]
    piece = await db_store.read("big", boundary - 10, 25)
    assert piece.data == whole[boundary - 10 : boundary + 15]
    assert piece.next_offset == boundary + 15
    # Limited reads one after another give the whole log back.
    got, offset = b"", 0
    while True:
        chunk = await db_store.read("big", offset, 3 * 1024 * 1024 + 7)
        if not chunk.data:
            break
        got += chunk.data
        offset = chunk.next_offset
    assert got == whole


async def test_small_appends_grow_the_last_row_instead_of_adding_rows(
    db_store: DatabaseLogStore, sessions: async_sessionmaker[AsyncSession]
) -> None:
    lines = [f"line {i:04d} {'x' * 90}\n".encode() for i in range(100)]
    offset = 0
    for line in lines:
        await db_store.append("quiet", offset, line)
        offset += len(line)
    assert len(await rows_of(sessions, "quiet")) == 1
    big = b"y" * GROW_BYTES
    await db_store.append("quiet", offset, big)
    rows = await rows_of(sessions, "quiet")
    assert [(seq, start) for seq, start, _ in rows] == [(0, 0), (1, offset)]
    assert (await db_store.read("quiet")).data == b"".join(lines) + big


async def test_a_run_with_no_rows_is_read_from_the_local_file(
    sessions: async_sessionmaker[AsyncSession], tmp_path: Path
) -> None:
    path = log_path(tmp_path, "p", "old")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"logged before the database kept logs\n")
    store = DatabaseLogStore(sessions, fallback=FileLogStore(tmp_path))
    assert await store.size("old") == path.stat().st_size
    assert (await store.read("old", 7)).data == b"before the database kept logs\n"
    # Once the database holds rows for an execution, they are what is read.
    await store.append("old", 0, b"shipped\n")
    assert await store.size("old") == 8
    assert (await store.read("old")).data == b"shipped\n"
    assert await store.size("ghost") is None

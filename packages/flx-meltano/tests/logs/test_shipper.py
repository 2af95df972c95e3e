"""The shipper copies a run's log file into the store while the run writes it, and all of
it when the run ends, however it ends."""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from flx_core.domain.ports import LogChunk, LogStorePort
from flx_meltano.logs import DatabaseLogStore, FileLogStore, LogShipper

DEADLINE = 30.0


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    while not await check():
        if loop.time() > end:
            raise AssertionError(f"never happened: {what}")
        await asyncio.sleep(0.02)


async def test_ships_while_the_file_grows_and_the_rest_at_the_end(
    db_store: DatabaseLogStore, tmp_path: Path
) -> None:
    path = tmp_path / "run.log"
    path.write_bytes(b"")
    line = os.urandom(5 * 1024 * 1024).hex().encode() + b"\n"  # a 10 MiB line
    go_on = threading.Event()

    def run() -> None:  # the runner's log sink, in a thread as it is
        with path.open("ab") as fh:
            fh.write(b"started\n")
            fh.flush()
            go_on.wait(DEADLINE)
            for i in range(3):
                fh.write(line[i * len(line) // 3 : (i + 1) * len(line) // 3])
                fh.flush()
            fh.write(b"last words\n")

    async def has_first_line() -> bool:
        return (await db_store.read("e")).data == b"started\n"

    writer = threading.Thread(target=run)
    async with LogShipper(db_store, "e", path, interval=0.05):
        writer.start()
        await eventually(has_first_line, "the first line shipped during the run")
        go_on.set()
        await asyncio.to_thread(writer.join)
    assert (await db_store.read("e")).data == path.read_bytes()
    assert (await db_store.read("e")).data == b"started\n" + line + b"last words\n"


@pytest.mark.parametrize("ending", ["failure", "cancellation"])
async def test_what_is_left_is_shipped_when_the_run_fails_or_is_cancelled(
    db_store: DatabaseLogStore, tmp_path: Path, ending: str
) -> None:
    path = tmp_path / "run.log"
    written = asyncio.Event()

    async def run() -> None:
        async with LogShipper(db_store, "e", path, interval=3600):
            path.write_bytes(b"tap | error: boom\n")
            written.set()
            if ending == "failure":
                raise RuntimeError("the run failed")
            await asyncio.sleep(3600)

    task = asyncio.create_task(run())
    await written.wait()
    if ending == "cancellation":
        task.cancel()
    with pytest.raises(RuntimeError if ending == "failure" else asyncio.CancelledError):
        await task
    assert (await db_store.read("e")).data == b"tap | error: boom\n"


class FlakyStore(LogStorePort):
    """A store whose appends fail while ``down`` is set (a database going away)."""

    def __init__(self) -> None:
        self.data = b""
        self.down = True
        self.refused = 0

    async def append(self, execution_id: str, offset: int, data: bytes) -> None:
        if self.down:
            self.refused += 1
            raise ConnectionError("database unreachable")
        assert offset == len(self.data)
        self.data += data

    async def read(self, execution_id: str, offset: int = 0, limit: int | None = None) -> LogChunk:
        data = self.data[offset:] if limit is None else self.data[offset : offset + limit]
        return LogChunk(data=data, offset=offset, next_offset=offset + len(data))

    async def size(self, execution_id: str) -> int | None:
        return len(self.data)


async def test_a_store_that_fails_for_a_while_gets_the_whole_log_later(tmp_path: Path) -> None:
    path = tmp_path / "run.log"
    store = FlakyStore()
    shipper = LogShipper(store, "e", path, interval=3600)
    path.write_bytes(b"one\n")
    await shipper.ship()  # fails, and does not raise into the run
    assert store.refused == 1 and store.data == b""
    with path.open("ab") as fh:
        fh.write(b"two\n")
    store.down = False
    await shipper.ship()
    assert store.data == b"one\ntwo\n"


async def test_nothing_is_shipped_for_the_file_store_or_without_a_file(tmp_path: Path) -> None:
    path = tmp_path / "logs" / "p" / "e.log"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"written once\n")
    async with LogShipper(FileLogStore(tmp_path), "e", path, interval=0.01) as shipper:
        assert not shipper.active
        await asyncio.sleep(0.05)
    assert path.read_bytes() == b"written once\n" and shipper.shipped == 0
    store = FlakyStore()
    async with LogShipper(store, "e", None) as shipper:
        assert not shipper.active
    assert store.refused == 0

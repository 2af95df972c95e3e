"""The last lines of a log, read backwards from its end in growing blocks, so a tail of
a large log does not read all of it."""

from __future__ import annotations

from flx_core.domain.ports import LogChunk, LogStorePort

FIRST_BLOCK = 64 * 1024
LARGEST_BLOCK = 8 * 1024 * 1024


async def last_lines(store: LogStorePort, execution_id: str, count: int) -> LogChunk | None:
    """The chunk holding the last ``count`` lines of the log (its ``next_offset`` is the
    log's end, where a follower goes on), or None when the store has no log for it."""
    size = await store.size(execution_id)
    if size is None:
        return None
    start, data, block = size, b"", FIRST_BLOCK
    while True:
        cut = _start_of_last_lines(data, count)
        if cut is not None or start == 0:
            cut = cut or 0
            return LogChunk(data=data[cut:], offset=start + cut, next_offset=start + len(data))
        step = min(block, start)
        start -= step
        data = (await store.read(execution_id, start, step)).data + data
        block = min(block * 2, LARGEST_BLOCK)


def _start_of_last_lines(data: bytes, count: int) -> int | None:
    """Where the last ``count`` lines of ``data`` begin, or None when ``data`` may not hold
    all of them (their start is before it)."""
    if count <= 0:
        return len(data)
    end = len(data) - 1 if data.endswith(b"\n") else len(data)
    for _ in range(count):
        end = data.rfind(b"\n", 0, end)
        if end < 0:
            return None
    return end + 1

"""The last lines of a log, read from its end, on the database store."""

from __future__ import annotations

from flx_meltano.logs import DatabaseLogStore, last_lines


async def test_last_lines_of_a_log(db_store: DatabaseLogStore) -> None:
    text = b"".join(f"line {i}\n".encode() for i in range(50_000))
    await db_store.append("e", 0, text)
    tail = await last_lines(db_store, "e", 3)
    assert tail is not None
    assert tail.data == b"line 49997\nline 49998\nline 49999\n"
    assert tail.next_offset == len(text) and tail.offset == len(text) - len(tail.data)
    everything = await last_lines(db_store, "e", 10**6)
    assert everything is not None and everything.data == text and everything.offset == 0
    none = await last_lines(db_store, "e", 0)
    assert none is not None and (none.data, none.offset) == (b"", len(text))
    assert await last_lines(db_store, "ghost", 3) is None


async def test_a_last_line_longer_than_any_block_and_no_final_newline(
    db_store: DatabaseLogStore,
) -> None:
    long = b"z" * (9 * 1024 * 1024)
    await db_store.append("e", 0, b"first\n" + long + b"\nunfinished")
    tail = await last_lines(db_store, "e", 2)
    assert tail is not None and tail.data == long + b"\nunfinished"

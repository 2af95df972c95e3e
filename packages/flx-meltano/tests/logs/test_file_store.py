"""The file log store reads the log files runs write under FLX_HOME, by execution id."""

from __future__ import annotations

from pathlib import Path

from flx_meltano.engine.paths import log_path
from flx_meltano.logs import FileLogStore


def write(home: Path, pipeline: str, execution_id: str, data: bytes) -> Path:
    path = log_path(home, pipeline, execution_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


async def test_reads_the_run_log_by_id_whatever_the_pipeline(tmp_path: Path) -> None:
    write(tmp_path, "first", "aaa111", b"not this one\n")
    path = write(tmp_path, "second", "bbb222", b"one\ntwo\n")
    store = FileLogStore(tmp_path)
    assert await store.size("bbb222") == 8
    chunk = await store.read("bbb222", 4, 2)
    assert (chunk.data, chunk.offset, chunk.next_offset) == (b"tw", 4, 6)
    with path.open("ab") as fh:  # the run goes on writing
        fh.write(b"three\n")
    assert (await store.read("bbb222", 8)).data == b"three\n"
    assert await store.size("bbb222") == 14


async def test_append_leaves_the_run_file_alone(tmp_path: Path) -> None:
    path = write(tmp_path, "p", "ccc333", b"written by the run\n")
    store = FileLogStore(tmp_path)
    await store.append("ccc333", 0, b"written by the run\n")
    assert path.read_bytes() == b"written by the run\n"


async def test_unknown_ids_and_paths_have_no_log(tmp_path: Path) -> None:
    write(tmp_path, "p", "ddd444", b"x\n")
    (tmp_path / "secret.log").write_bytes(b"not a log\n")
    store = FileLogStore(tmp_path)
    for ident in ("ghost", "../secret", "*", "p/ddd444", ""):
        assert await store.size(ident) is None, ident
        chunk = await store.read(ident)
        assert (chunk.data, chunk.next_offset) == (b"", 0)
    write(tmp_path, "p", "eee555", b"y\n")
    assert await store.size("eee555") == 2  # a log that appears later is found

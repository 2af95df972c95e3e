"""The message reader shared by the built-in targets: lines, batches, runs of records."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings, strategies as st

from flx_meltano.connectors import singer_io
from flx_meltano.connectors.singer_io import SingerInputError, batches, line_batches, segments


def read_in_pieces(
    tmp_path: Path, data: bytes, size: int, monkeypatch: pytest.MonkeyPatch
) -> list[list[bytes]]:
    """line_batches over a file, reading ``size`` bytes at a time."""
    path = tmp_path / "in"
    path.write_bytes(data)
    monkeypatch.setattr(singer_io, "BATCH_BYTES", size)
    fd = os.open(path, os.O_RDONLY)
    try:
        return list(line_batches(fd))
    finally:
        os.close(fd)


@settings(max_examples=150, deadline=None)
@given(
    data=st.lists(st.sampled_from([b"a", b"bc", b"\n", b"\r", b"\r\n", b"{}", b" "])).map(b"".join),
    size=st.integers(min_value=1, max_value=9),
)
def test_lines_come_out_as_if_the_input_had_been_read_whole(
    tmp_path_factory: pytest.TempPathFactory, data: bytes, size: int
) -> None:
    with pytest.MonkeyPatch.context() as monkeypatch:
        got = read_in_pieces(tmp_path_factory.mktemp("lines"), data, size, monkeypatch)
    assert [line for batch in got for line in batch] == data.splitlines(keepends=True)
    assert all(batch for batch in got)
    # Only the very last line may lack its end.
    for batch in got[:-1]:
        assert all(line.endswith((b"\n", b"\r")) for line in batch)


def test_a_line_longer_than_many_reads_is_gathered_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    long = b"x" * 1000 + b"\n"
    got = read_in_pieces(tmp_path, b"a\n" + long + b"b\n", 7, monkeypatch)
    assert long in [line for batch in got for line in batch]


def message_file(tmp_path: Path, data: bytes) -> Iterator[Any]:
    path = tmp_path / "messages"
    path.write_bytes(data)
    with path.open("rb") as fh:
        yield from batches(fh)


def test_batches_number_each_message_by_its_line_past_blank_lines(tmp_path: Path) -> None:
    data = b'{"type":"SCHEMA"}\n\n{"type":"RECORD"}\n   \n{"type":"STATE"}\n'
    [(numbers, parsed, types)] = list(message_file(tmp_path, data))
    assert list(numbers) == [1, 3, 5]
    assert types == ["SCHEMA", "RECORD", "STATE"] == [m["type"] for m in parsed]


@pytest.mark.parametrize(
    ("data", "needle"),
    [
        (b'{"type":"STATE"}\n[1, 2]\n', 'line 2 is not a Singer message (no "type")'),
        (b'{"type":"STATE"}\n\n{"stream":"s"}\n', 'line 3 is not a Singer message (no "type")'),
        (b'{"type":"STATE"}\n"text"\n', 'line 2 is not a Singer message (no "type")'),
        (b'{"type":"STATE"}\n{"type":\n', "line 2 is not valid JSON"),
        (b'{"type":"STATE"}\n{"type":"ST', "line 2 is truncated"),
    ],
)
def test_bad_lines_are_named(tmp_path: Path, data: bytes, needle: str) -> None:
    with pytest.raises(SingerInputError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        list(message_file(tmp_path, data))


def test_a_last_line_without_newline_is_still_read(tmp_path: Path) -> None:
    [(numbers, parsed, _)] = list(message_file(tmp_path, b'{"type":"STATE","value":1}'))
    assert list(numbers) == [1] and parsed == [{"type": "STATE", "value": 1}]


def record(stream: str, i: int) -> dict[str, Any]:
    return {"type": "RECORD", "stream": stream, "record": {"i": i}}


def test_segments_keep_order_and_split_runs_by_stream_and_message() -> None:
    state = {"type": "STATE", "value": 1}
    parsed = [
        record("a", 0),
        record("a", 1),
        record("b", 2),
        state,
        state,
        record("a", 3),
        {"type": "RECORD", "stream": "a"},
    ]
    got = list(segments(parsed, [m["type"] for m in parsed]))
    assert got == [
        ("records", ("a", [{"i": 0}, {"i": 1}]), 0),
        ("records", ("b", [{"i": 2}]), 2),
        ("message", state, 3),
        ("message", state, 4),
        ("records", ("a", [{"i": 3}, None]), 5),
    ]


def test_segments_of_a_batch_of_one_stream_is_one_run() -> None:
    parsed = [record("a", i) for i in range(5)]
    got = list(segments(parsed, ["RECORD"] * 5))
    assert got == [("records", ("a", [{"i": i} for i in range(5)]), 0)]


def test_read_json_file_reports_unreadable_and_invalid_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"a": 1}))
    assert singer_io.read_json_file(str(good), "config", "prog") == {"a": 1}
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    for path, needle in ((bad, "is not valid JSON"), (tmp_path / "none", "cannot read config")):
        with pytest.raises(SystemExit):
            singer_io.read_json_file(str(path), "config", "prog")
        assert needle in capsys.readouterr().err

"""Record counting on the relay: exact per stream whatever the message layout."""

from __future__ import annotations

import pytest

from flx_meltano.runner.counting import RecordCounter
from flx_meltano.runner.lines import LineSplitter

SPACED = b'{"type": "RECORD", "stream": "%s", "record": {"id": 1}}\n'
COMPACT = b'{"type":"RECORD","stream":"%s","record":{"id":1}}\n'
LOOSE = b'{ "type" :  "RECORD" ,\t"stream" : "%s", "record": {}}\n'
REVERSED = b'{"stream": "%s", "type": "RECORD", "record": {"id": 1}}\n'
SCHEMA = b'{"type": "SCHEMA", "stream": "a", "schema": {}, "key_properties": []}\n'
STATE = b'{"type": "STATE", "value": {"bookmarks": {}}}\n'


def lines(template: bytes, *streams: str) -> bytes:
    return b"".join(template % s.encode() for s in streams)


@pytest.mark.parametrize(
    ("blocks", "expected"),
    [
        pytest.param([lines(SPACED, "a", "a", "b")], {"a": 2, "b": 1}, id="spaced"),
        pytest.param([lines(COMPACT, "a", "b", "b")], {"a": 1, "b": 2}, id="compact"),
        pytest.param([lines(LOOSE, "a", "a")], {"a": 2}, id="any whitespace"),
        pytest.param([lines(REVERSED, "a", "b")], {"a": 1, "b": 1}, id="stream key first"),
        pytest.param(
            [SCHEMA + lines(SPACED, "a") + STATE + lines(REVERSED, "a")], {"a": 2}, id="mixed"
        ),
        pytest.param(
            [b'{"type": "RECORD", "stream": "we\\"ird", "record": {}}\n'],
            {'we"ird': 1},
            id="escaped stream name",
        ),
        pytest.param(
            [b'{"type": "RECORD", "stream": "a", "record": {"kind": "RECORD"}}\n'],
            {"a": 1},
            id="RECORD as a value",
        ),
        pytest.param(
            [lines(SPACED, "a", "b"), lines(SPACED, "b", "b"), lines(COMPACT, "a", "c")],
            {"a": 2, "b": 3, "c": 1},
            id="known prefixes across blocks",
        ),
        pytest.param(
            [lines(SPACED, *[f"s{i}" for i in range(12)]) for _ in range(3)],
            {f"s{i}": 3 for i in range(12)},
            id="more streams than prefix passes",
        ),
        pytest.param([lines(SPACED, "ünï")], {"ünï": 1}, id="non-ascii stream"),
        pytest.param([SCHEMA + STATE], {}, id="no records"),
    ],
)
def test_counts_records_per_stream(blocks: list[bytes], expected: dict[str, int]) -> None:
    counter = RecordCounter()
    for block in blocks:
        counter.count(block)
    assert counter.per_stream() == expected


def test_counts_only_the_given_range() -> None:
    block = lines(SPACED, "a", "b", "c")
    first_line_end = block.index(b"\n") + 1
    counter = RecordCounter()
    counter.count(block, first_line_end, len(block))
    assert counter.per_stream() == {"b": 1, "c": 1}


def test_line_splitter_keeps_partial_lines_of_any_length() -> None:
    splitter = LineSplitter()
    assert splitter.feed(b"abc") == []
    assert splitter.feed(b"x" * 100_000) == []
    assert splitter.feed(b"d\nef\ng") == [b"abc" + b"x" * 100_000 + b"d", b"ef"]
    assert splitter.feed(b"\n") == [b"g"]
    assert splitter.feed(b"tail") == []
    assert splitter.finish() == b"tail"
    assert splitter.finish() is None

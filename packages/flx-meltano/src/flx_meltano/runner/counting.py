"""Count Singer RECORD messages per stream in blocks of complete lines, cheaply.

Three tiers, each used only when the cheaper one cannot account for every record:

1. ``bytes.count`` of the exact message prefixes already seen, e.g.
   ``{"type": "RECORD", "stream": "users"``, those of the previous block first (in reverse,
   so a stream that has just begun comes first). Taps write the keys in one order with one
   spacing and mostly one stream after another, so after the first block one or two passes
   are the steady state, and ``bytes.count`` is many times faster than a regex.
2. A compiled regex for that key order with any whitespace, which also learns new prefixes.
3. Parsing with orjson every line that mentions ``"RECORD"``.

The check at each tier is that the records found add up to the occurrences of ``"RECORD"``
in the block, so a record written in another key order (``{"stream": "x", "type":
"RECORD"``) or a record value equal to ``"RECORD"`` sends the block to the next tier.
"""

from __future__ import annotations

import re
from collections import Counter

import orjson

RECORD_TOKEN = b'"RECORD"'
RECORD_PREFIX = re.compile(rb'(\{\s*"type"\s*:\s*"RECORD"\s*,\s*"stream"\s*:\s*"([^"\\]*)")')
MAX_PREFIX_PASSES = 8


class RecordCounter:
    def __init__(self) -> None:
        self.counts: Counter[bytes] = Counter()
        self._prefixes: dict[bytes, bytes] = {}
        """Known message prefix -> stream, in the order to try them."""

    def per_stream(self) -> dict[str, int]:
        return {
            name.decode("utf-8", "replace"): count for name, count in self.counts.copy().items()
        }

    def count(self, buf: bytes, start: int = 0, end: int | None = None) -> None:
        """Count the records in ``buf[start:end]``, which holds complete lines only."""
        stop = len(buf) if end is None else end
        total = buf.count(RECORD_TOKEN, start, stop)
        if (
            total
            and not self._count_known(buf, start, stop, total)
            and not self._count_regex(buf, start, stop, total)
        ):
            self._count_parsed(buf, start, stop)

    def _count_known(self, buf: bytes, start: int, stop: int, total: int) -> bool:
        found: list[tuple[bytes, bytes, int]] = []
        remaining = total
        for passes, (prefix, stream) in enumerate(self._prefixes.items()):
            if passes == MAX_PREFIX_PASSES:
                return False
            n = buf.count(prefix, start, stop)
            if n:
                found.append((prefix, stream, n))
                remaining -= n
                if remaining <= 0:
                    break
        if remaining != 0:
            return False
        for prefix, stream, n in found:
            self.counts[stream] += n
            self._prefixes.pop(prefix)
        self._prefixes = {p: s for p, s, _ in reversed(found)} | self._prefixes
        return True

    def _count_regex(self, buf: bytes, start: int, stop: int, total: int) -> bool:
        matches: Counter[tuple[bytes, bytes]] = Counter(RECORD_PREFIX.findall(buf, start, stop))
        if matches.total() != total:
            return False
        for (prefix, stream), n in matches.items():
            self.counts[stream] += n
            self._prefixes.pop(prefix, None)
            self._prefixes = {prefix: stream} | self._prefixes
        return True

    def _count_parsed(self, buf: bytes, start: int, stop: int) -> None:
        for line in buf[start:stop].split(b"\n"):
            if RECORD_TOKEN not in line:
                continue
            try:
                message = orjson.loads(line)
            except orjson.JSONDecodeError:
                continue
            if isinstance(message, dict) and message.get("type") == "RECORD":
                stream = message.get("stream")
                if isinstance(stream, str):
                    self.counts[stream.encode()] += 1

"""Deterministic synthetic rows for tap-flx-sample.

Row ``i`` of a stream is a function of (seed, i) only, so a run asking for more rows emits
the same first rows plus new ones, and ``updated_at`` is ``start_date + i seconds``, growing
with ``id``: the replication key bookmark maps back to a row index. Values come from a cheap
integer hash rather than a seeded ``random.Random`` per row, which would cost several times
more than building the row.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

KEY = "id"
REPLICATION_KEY = "updated_at"
BLOCK = 1024
_WORDS = struct.Struct(f"<{BLOCK}I")  # little-endian whatever the machine: same rows everywhere

FIRST_NAMES = (
    "Ada", "Alan", "Grace", "Edsger", "Barbara", "Donald", "Frances", "Ken",
    "Margaret", "Dennis", "Radia", "Linus", "Guido", "Sophie", "Tim", "Niklaus",
)  # fmt: skip
LAST_NAMES = (
    "Lovelace", "Turing", "Hopper", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson",
    "Hamilton", "Ritchie", "Perlman", "Torvalds", "van Rossum", "Wilson", "Berners-Lee", "Wirth",
)  # fmt: skip
COUNTRIES = ("BR", "PT", "US", "DE", "FR", "IN", "JP", "NG", "CA", "MX")
CURRENCIES = ("EUR", "USD", "BRL", "JPY")
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled", "refunded", "paid", "shipped")
EVENT_KINDS = ("page_view", "click", "signup", "purchase", "logout", "search", "click", "view")
PATHS = ("/", "/pricing", "/docs", "/blog", "/login", "/cart", "/checkout", "/account")


def _schema(**properties: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": properties, "additionalProperties": False}


_ID = {"type": "integer"}
_UPDATED = {"type": "string", "format": "date-time"}
_TEXT = {"type": ["string", "null"]}

SCHEMAS: dict[str, dict[str, Any]] = {
    "users": _schema(
        id=_ID,
        name=_TEXT,
        email=_TEXT,
        country=_TEXT,
        score={"type": ["number", "null"]},
        active={"type": ["boolean", "null"]},
        updated_at=_UPDATED,
    ),
    "orders": _schema(
        id=_ID,
        user_id={"type": ["integer", "null"]},
        amount={"type": ["number", "null"]},
        currency=_TEXT,
        status=_TEXT,
        items={"type": ["integer", "null"]},
        updated_at=_UPDATED,
    ),
    "events": _schema(
        id=_ID,
        user_id={"type": ["integer", "null"]},
        kind=_TEXT,
        properties={
            "type": ["object", "null"],
            "properties": {"path": _TEXT, "duration_ms": {"type": ["integer", "null"]}},
        },
        updated_at=_UPDATED,
    ),
}
STREAMS = tuple(SCHEMAS)


class Clock:
    """``updated_at`` of row i: ``start + i`` seconds as ``YYYY-MM-DDTHH:MM:SSZ``, built from
    small lookup tables instead of ``strftime`` per row."""

    _MINUTES = tuple(f"{h:02d}:{m:02d}:" for h in range(24) for m in range(60))
    _SECONDS = tuple(f"{s:02d}Z" for s in range(60))

    def __init__(self, start: datetime) -> None:
        self.start = start.astimezone(UTC).replace(microsecond=0)
        self.epoch = int(self.start.timestamp())
        self._days: dict[int, str] = {}

    def timestamp(self, index: int) -> str:
        day, second = divmod(self.epoch + index, 86400)
        prefix = self._days.get(day)
        if prefix is None:
            prefix = self._days[day] = datetime.fromtimestamp(day * 86400, UTC).strftime(
                "%Y-%m-%dT"
            )
        return prefix + self._MINUTES[second // 60] + self._SECONDS[second % 60]

    def timestamps(self, start: int, stop: int) -> list[str]:
        """``timestamp(i)`` for i in [start, stop), one string concatenation per row."""
        stamps: list[str] = []
        seconds = self._SECONDS
        index = start
        while index < stop:
            into = (self.epoch + index) % 60
            take = min(60 - into, stop - index)
            head = self.timestamp(index)[:17]  # YYYY-MM-DDTHH:MM:
            stamps += [head + s for s in seconds[into : into + take]]
            index += take
        return stamps

    def first_index_after(self, bookmark: str) -> int:
        """The first row whose ``updated_at`` is strictly later than ``bookmark``."""
        moment = datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=UTC)
        elapsed = (moment - self.start) // timedelta(seconds=1)
        return max(elapsed + 1, 0)


def random_words(seed: int, stream: str, start: int, stop: int) -> list[int]:
    """32 random bits for each row in [start, stop); row i's bits depend on (seed, i) only."""
    words: list[int] = []
    for block in range(start // BLOCK, (stop - 1) // BLOCK + 1 if stop > start else 0):
        rng = random.Random(f"{seed}:{stream}:{block}")  # noqa: S311 (not for security)
        first = block * BLOCK
        chunk = _WORDS.unpack(rng.randbytes(4 * BLOCK))
        words += chunk[max(start - first, 0) : stop - first]
    return words


def users(seed: int, start: int, stop: int, clock: Clock) -> list[dict[str, Any]]:
    words = random_words(seed, "users", start, stop)
    stamps = clock.timestamps(start, stop)
    rows = []
    for i, h, updated_at in zip(range(start, stop), words, stamps, strict=True):
        rows.append(
            {
                "id": i,
                "name": f"{FIRST_NAMES[h & 15]} {LAST_NAMES[(h >> 4) & 15]}",
                "email": f"user{i}@example.com",
                "country": COUNTRIES[(h >> 8) % 10],
                "score": ((h >> 12) % 10000) / 100,
                "active": (h >> 28) & 3 != 0,
                "updated_at": updated_at,
            }
        )
    return rows


def orders(seed: int, start: int, stop: int, clock: Clock) -> list[dict[str, Any]]:
    words = random_words(seed, "orders", start, stop)
    stamps = clock.timestamps(start, stop)
    rows = []
    for i, h, updated_at in zip(range(start, stop), words, stamps, strict=True):
        rows.append(
            {
                "id": i,
                "user_id": h % (i + 1),
                "amount": ((h >> 6) % 100000) / 100,
                "currency": CURRENCIES[h & 3],
                "status": STATUSES[(h >> 2) & 7],
                "items": 1 + (h >> 24) % 9,
                "updated_at": updated_at,
            }
        )
    return rows


def events(seed: int, start: int, stop: int, clock: Clock) -> list[dict[str, Any]]:
    words = random_words(seed, "events", start, stop)
    stamps = clock.timestamps(start, stop)
    rows = []
    for i, h, updated_at in zip(range(start, stop), words, stamps, strict=True):
        rows.append(
            {
                "id": i,
                "user_id": h % (i + 1),
                "kind": EVENT_KINDS[h & 7],
                "properties": {"path": PATHS[(h >> 3) & 7], "duration_ms": (h >> 8) % 30000},
                "updated_at": updated_at,
            }
        )
    return rows


GENERATORS: dict[str, Callable[[int, int, int, Clock], list[dict[str, Any]]]] = {
    "users": users,
    "orders": orders,
    "events": events,
}

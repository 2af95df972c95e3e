"""Deterministic synthetic rows for tap-flx-sample: a row is a function of (seed, index)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

FIRST_NAMES = (
    "Ada",
    "Alan",
    "Grace",
    "Edsger",
    "Barbara",
    "Donald",
    "Frances",
    "Ken",
    "Margaret",
    "Dennis",
    "Radia",
    "Linus",
    "Guido",
    "Sophie",
    "Tim",
    "Niklaus",
)
COUNTRIES = ("BR", "PT", "US", "DE", "FR", "IN", "JP", "NG", "CA", "MX")
EVENTS = ("page_view", "click", "signup", "purchase", "logout")


def _props(**kinds: str) -> dict[str, Any]:
    return {name: {"type": kind.split("|")} for name, kind in kinds.items()}


SCHEMAS: dict[str, dict[str, Any]] = {
    "users": {
        "type": "object",
        "properties": _props(
            id="integer",
            name="string",
            email="string",
            country="string",
            score="number",
            active="boolean",
            updated_at="string",
        ),
    },
    "orders": {
        "type": "object",
        "properties": _props(
            id="integer",
            user_id="integer",
            amount="number",
            currency="string",
            status="string",
            updated_at="string",
        ),
    },
    "events": {
        "type": "object",
        "properties": _props(
            id="integer", user_id="integer", kind="string", path="string", updated_at="string"
        ),
    },
}
for schema in SCHEMAS.values():
    schema["properties"]["updated_at"]["format"] = "date-time"


def timestamp(start: datetime, index: int) -> str:
    """updated_at of row ``index``: one second apart, so it grows with the id."""
    return (start + timedelta(seconds=index)).strftime("%Y-%m-%dT%H:%M:%SZ")


def index_after(start: datetime, bookmark: str) -> int:
    """The first row index whose updated_at is strictly after ``bookmark``."""
    moment = datetime.fromisoformat(bookmark.replace("Z", "+00:00"))
    return max(int((moment - start).total_seconds()) + 1, 0)


def _mix(seed: int, index: int, salt: int) -> int:
    """A cheap deterministic 32-bit hash (seeding a Random per row would cost far more)."""
    x = (index * 2654435761 + seed * 40503 + salt * 97) & 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x45D9F3B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def make_row(stream: str, seed: int, index: int, updated_at: str, users: int) -> dict[str, Any]:
    h = _mix(seed, index, len(stream))
    if stream == "users":
        return {
            "id": index,
            "name": f"{FIRST_NAMES[h % 16]} {index}",
            "email": f"user{index}@example.com",
            "country": COUNTRIES[(h >> 4) % 10],
            "score": (h % 10000) / 100,
            "active": (h >> 8) % 5 != 0,
            "updated_at": updated_at,
        }
    if stream == "orders":
        return {
            "id": index,
            "user_id": h % max(users, 1),
            "amount": (h % 50000) / 100,
            "currency": "EUR",
            "status": ("new", "paid", "shipped")[(h >> 5) % 3],
            "updated_at": updated_at,
        }
    return {
        "id": index,
        "user_id": h % max(users, 1),
        "kind": EVENTS[(h >> 3) % 5],
        "path": f"/p/{(h >> 7) % 50}",
        "updated_at": updated_at,
    }

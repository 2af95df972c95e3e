"""Opaque cursors for keyset pagination."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

from flx_core.domain.errors import ValidationFailed


def encode_cursor(*values: Any) -> str:
    raw = json.dumps([v.isoformat() if isinstance(v, datetime) else v for v in values])
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        values = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, UnicodeDecodeError):
        raise ValidationFailed(f"invalid cursor {cursor!r}") from None
    if not isinstance(values, list) or len(values) != size:
        raise ValidationFailed(f"invalid cursor {cursor!r}")
    return values


def aware(value: datetime | None) -> datetime | None:
    """Datetimes come back naive from SQLite: they were stored in UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=UTC)


def parse_time(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

"""What the servicers share: the request's metadata and the date fields of requests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from google.protobuf.timestamp_pb2 import Timestamp
from grpc import aio

from flx_grpc._errors import invalid_field


def peer_address(context: aio.ServicerContext[Any, Any]) -> str:
    """The client's address (``ipv4:127.0.0.1:5000`` -> ``127.0.0.1``; gRPC may write an
    IPv6 address's brackets percent-encoded)."""
    peer = unquote(context.peer() or "unknown")
    kind, _, rest = peer.partition(":")
    if kind == "ipv6":
        return rest.rpartition(":")[0].strip("[]") or "unknown"
    if kind == "ipv4":
        return rest.rpartition(":")[0] or "unknown"
    return peer


def user_agent(context: aio.ServicerContext[Any, Any]) -> str | None:
    for name, value in context.invocation_metadata() or ():
        if name == "user-agent":
            text = value if isinstance(value, str) else value.decode("latin-1")
            return text[:512] or None
    return None


def when(message: Any, field: str) -> datetime | None:
    """A Timestamp field of a request, or None when it is not set."""
    if not message.HasField(field):
        return None
    stamp: Timestamp = getattr(message, field)
    return stamp.ToDatetime(tzinfo=UTC)


def page_size(value: int, default: int, most: int) -> int:
    if value < 0 or value > most:
        raise invalid_field("page_size", f"must be between 1 and {most} (0: {default})")
    return value or default

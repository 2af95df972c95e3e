"""The message broker (RabbitMQ or Redis) as FLX speaks of it: reachable or not, in words
that never show its password."""

from __future__ import annotations

from flx_core.config import mask_url
from flx_core.domain import DomainError


class BrokerUnavailable(DomainError):
    """The broker cannot be reached: runs cannot be handed to workers."""

    code = "broker_unavailable"


def describe_failure(url: str, exc: BaseException) -> str:
    """One line naming the broker (password masked) and why it failed, without the
    password even when the client library quotes the URL in its message."""
    reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    masked = mask_url(url)
    if url in reason:
        reason = reason.replace(url, masked)
    return f"cannot reach the broker at {masked}: {reason}"


def check_broker(url: str, timeout: float = 5.0) -> None:
    """Connect once to the broker and close; BrokerUnavailable (one line) when it fails.

    Used before a worker starts, so a wrong URL or a stopped broker is a clear error rather
    than a worker that retries quietly forever.
    """
    from kombu.connection import Connection

    try:
        options = {"max_retries": 0}
        with Connection(url, connect_timeout=timeout, transport_options=options) as c:  # type: ignore[no-untyped-call]
            c.ensure_connection(max_retries=1, interval_start=0.5, timeout=timeout)
    except Exception as exc:
        raise BrokerUnavailable(describe_failure(url, exc)) from None

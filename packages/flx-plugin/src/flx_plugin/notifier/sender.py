"""Posting a message to an incoming webhook, with retries.

A message is tried ``attempts`` times: again after a connection error, a timeout, a 5xx or
a 429 answer (waiting ``backoff`` seconds, doubled each time up to 30 s, or what a 429's
``Retry-After`` asks, up to 60 s); a 4xx other than 429 is final (the URL or the payload is
wrong, and trying again would not help). It never raises: the outcome is returned and
logged, without the URL (a webhook URL is a secret), naming only its host.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog

from flx_plugin.notifier.options import NotifierOptions

log = structlog.get_logger(__name__)

MAX_BACKOFF = 30.0
MAX_RETRY_AFTER = 60.0
USER_AGENT = "flx-notifier/1"


@dataclass(frozen=True)
class Delivery:
    ok: bool
    attempts: int
    #: The last HTTP status, None when no answer came.
    status: int | None = None
    error: str | None = None


class _Retry(Exception):
    def __init__(self, why: str, status: int | None = None, wait: float | None = None) -> None:
        super().__init__(why)
        self.status = status
        self.wait = wait


def _post(url: str, body: bytes, timeout: float) -> int:
    """One POST (blocking); its status, or _Retry / ValueError."""
    request = urllib.request.Request(  # noqa: S310 - the scheme was checked with the options
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": USER_AGENT},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            wait = _retry_after(exc.headers.get("Retry-After")) if exc.code == 429 else None
            raise _Retry(f"HTTP {exc.code}", exc.code, wait) from None
        raise ValueError(f"HTTP {exc.code}") from None
    except (OSError, TimeoutError) as exc:  # refused, reset, DNS, timeout
        reason = getattr(exc, "reason", exc)
        raise _Retry(f"{type(exc).__name__}: {reason}") from None


def _retry_after(value: str | None) -> float | None:
    try:
        return min(float(value), MAX_RETRY_AFTER) if value else None
    except ValueError:
        return None


class WebhookSender:
    def __init__(
        self,
        options: NotifierOptions,
        *,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
    ) -> None:
        self.options = options
        self.sleep = sleep

    async def send(self, payload: dict[str, Any], *, kind: str, pipeline: str) -> Delivery:
        o = self.options
        if o.url is None:
            return Delivery(ok=False, attempts=0, error="no webhook URL")
        body = json.dumps(payload).encode()
        status: int | None = None
        error = ""
        for attempt in range(1, o.attempts + 1):
            try:
                status = await asyncio.to_thread(_post, o.url, body, o.timeout)
            except _Retry as exc:
                status, error = exc.status, str(exc)
                if attempt < o.attempts:
                    wait = exc.wait if exc.wait is not None else o.backoff * 2 ** (attempt - 1)
                    await self.sleep(min(wait, MAX_RETRY_AFTER if exc.wait else MAX_BACKOFF))
                continue
            except ValueError as exc:
                error = str(exc)
                log.warning(
                    "notification_refused", host=o.host, kind=kind, pipeline=pipeline, error=error
                )
                return Delivery(ok=False, attempts=attempt, error=error)
            log.info(
                "notification_sent", host=o.host, kind=kind, pipeline=pipeline, attempts=attempt
            )
            return Delivery(ok=True, attempts=attempt, status=status)
        log.warning(
            "notification_failed",
            host=o.host,
            kind=kind,
            pipeline=pipeline,
            attempts=o.attempts,
            error=error,
        )
        return Delivery(ok=False, attempts=o.attempts, status=status, error=error)

"""The notifier's options: ``[extensions.notifier]`` of ``$FLX_HOME/extensions.toml``.

::

    [extensions.notifier]
    url = "https://hooks.slack.com/services/T000/B000/XXXX"  # or FLX_NOTIFIER_URL
    on = ["failure", "recovery"]       # what to send (both by default)
    pipelines = ["orders", "users"]    # only these pipelines (all by default)
    dashboard_url = "https://flx.example.com"   # links to the executions
    channel = "#data-alerts"           # Slack-compatible extras, sent when set
    username = "FLX"
    icon_emoji = ":rotating_light:"
    timeout = 5                        # seconds per attempt
    attempts = 4                       # tries per message
    backoff = 1.0                      # seconds before the 2nd try, doubled each time (max 30)

The URL of an incoming webhook is a secret: it is never logged (only its host is).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

URL_VARIABLE = "FLX_NOTIFIER_URL"
KINDS = ("failure", "recovery")


class NotifierOptionsError(ValueError):
    """The notifier's options cannot be used; the message names the option."""


@dataclass(frozen=True)
class NotifierOptions:
    url: str | None = None
    on: frozenset[str] = frozenset(KINDS)
    pipelines: frozenset[str] | None = None
    dashboard_url: str | None = None
    channel: str | None = None
    username: str | None = None
    icon_emoji: str | None = None
    timeout: float = 5.0
    attempts: int = 4
    backoff: float = 1.0

    @property
    def host(self) -> str:
        """The webhook's host, what logs may show of its URL."""
        return urlsplit(self.url or "").hostname or "?"

    def wants(self, kind: str, pipeline: str) -> bool:
        if self.url is None or kind not in self.on:
            return False
        return self.pipelines is None or pipeline in self.pipelines

    @classmethod
    def read(cls, raw: Mapping[str, Any]) -> NotifierOptions:
        """The options of ``raw`` (``context.config``), with FLX_NOTIFIER_URL first."""
        url = os.environ.get(URL_VARIABLE) or raw.get("url") or None
        if url is not None:
            url = str(url)
            if urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).hostname:
                raise NotifierOptionsError(
                    f"notifier: url must be an http(s) URL (from {URL_VARIABLE} or "
                    "[extensions.notifier] url)"
                )
        on = _names(raw, "on", default=KINDS)
        unknown = on - set(KINDS)
        if unknown:
            raise NotifierOptionsError(
                f"notifier: on lists {sorted(unknown)}; choose among {list(KINDS)}"
            )
        pipelines = _names(raw, "pipelines", default=None) if "pipelines" in raw else None
        return cls(
            url=url,
            on=on,
            pipelines=pipelines,
            dashboard_url=_text(raw, "dashboard_url"),
            channel=_text(raw, "channel"),
            username=_text(raw, "username"),
            icon_emoji=_text(raw, "icon_emoji"),
            timeout=_number(raw, "timeout", 5.0, low=0.1, high=120),
            attempts=int(_number(raw, "attempts", 4, low=1, high=10)),
            backoff=_number(raw, "backoff", 1.0, low=0, high=60),
        )


def _text(raw: Mapping[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if not value:
        return None
    text = str(value)
    return text.rstrip("/") if key == "dashboard_url" else text


def _names(raw: Mapping[str, Any], key: str, default: Any) -> Any:
    value = raw.get(key, default)
    if value is None:
        return None
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
        raise NotifierOptionsError(f"notifier: {key} must be a list of names")
    return frozenset(value)


def _number(raw: Mapping[str, Any], key: str, default: float, *, low: float, high: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise NotifierOptionsError(f"notifier: {key} must be a number from {low:g} to {high:g}")
    return float(value)

"""Template filters of the dashboard: times in the viewer's zone, durations, numbers, JSON."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from django import template
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

register = template.Library()


@register.filter
def when(value: datetime | None) -> str:
    """A moment in the viewer's time zone, with the zone's abbreviation; the exact UTC
    time is in the element's ``datetime`` (and its tooltip)."""
    if value is None:
        return "—"
    local = timezone.localtime(value)
    utc = value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    shown = local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or "")
    return str(format_html('<time datetime="{}" title="{}">{}</time>', utc, utc, shown.strip()))


def _span(seconds: float) -> str:
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f} s" if seconds < 10 else f"{seconds:.0f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return _two(minutes, "min", secs, "s")
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return _two(hours, "h", minutes, "min")
    return _two(hours // 24, "d", hours % 24, "h")


def _two(big: int, big_unit: str, small: int, small_unit: str) -> str:
    """``4 min 10 s``; ``24 h`` rather than ``24 h 0 min``."""
    return f"{big} {big_unit} {small} {small_unit}" if small else f"{big} {big_unit}"


@register.filter
def seconds(value: float | timedelta | None) -> str:
    """A length of time, readable: ``3.2 s``, ``4 min 10 s``, ``2 h 5 min``, ``3 d 4 h``."""
    if value is None:
        return "—"
    if isinstance(value, timedelta):
        value = value.total_seconds()
    return _span(float(value))


@register.filter
def ago(value: datetime | None) -> str:
    if value is None:
        return "never"
    return _span((timezone.now() - value).total_seconds()) + " ago"


@register.filter
def took(execution: Any) -> str:
    """How long a run took (or has been running)."""
    start = getattr(execution, "started_at", None)
    if start is None:
        return "—"
    end = getattr(execution, "finished_at", None) or timezone.now()
    return _span((end - start).total_seconds())


@register.filter
def num(value: int | float | None) -> str:
    if value is None:
        return "—"
    return f"{value:,}" if isinstance(value, int) else f"{value:,.1f}"


@register.filter
def percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f} %"


@register.filter
def pretty(value: Any) -> str:
    """JSON, indented (masked values stay masked: the views mask before rendering)."""
    return json.dumps(value, indent=2, sort_keys=True, default=str)


@register.filter
def lines(value: list[str] | None) -> str:
    return "\n".join(value or [])


@register.filter
def short(value: str | None) -> str:
    return (value or "")[:8]


@register.simple_tag
def page_url(request: HttpRequest, **changes: Any) -> str:
    """The current page's URL with some query parameters changed (``None`` drops one)."""
    query = request.GET.copy()
    for key, value in changes.items():
        query.pop(key, None)
        if value not in (None, ""):
            query[key] = value
    encoded = urlencode(list(query.lists()), doseq=True)
    return f"{request.path}?{encoded}" if encoded else request.path

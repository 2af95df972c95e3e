"""Slack-compatible messages: ``text`` (what notifications and clients without attachments
show) and one ``attachments`` entry with a colour, a title linking to the execution and
fields. Slack's incoming webhooks take them, and so do Mattermost's, Rocket.Chat's and
Discord's (``.../slack`` URLs)."""

from __future__ import annotations

from typing import Any

from flx_core.domain.events import ExecutionFailed, ExecutionSucceeded
from flx_plugin.notifier.options import NotifierOptions

RED = "#d00000"
GREEN = "#2eb886"
#: The longest error text sent (the start of it; the log has the rest).
MAX_ERROR = 1500


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {secs} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


def _escape(text: str) -> str:
    """Slack's three control characters, so that a pipeline's error cannot mention
    @channel or forge a link."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _message(
    options: NotifierOptions, text: str, attachment: dict[str, Any], execution_id: str
) -> dict[str, Any]:
    if options.dashboard_url:
        attachment["title_link"] = f"{options.dashboard_url}/executions/{execution_id}"
    attachment["footer"] = "FLX"
    payload: dict[str, Any] = {"text": text, "attachments": [attachment]}
    for key in ("channel", "username", "icon_emoji"):
        value = getattr(options, key)
        if value:
            payload[key] = value
    return payload


def failure_message(options: NotifierOptions, event: ExecutionFailed) -> dict[str, Any]:
    pipeline = _escape(event.pipeline_name)
    error = event.error or "no error message"
    if len(error) > MAX_ERROR:
        error = error[:MAX_ERROR] + " …"
    attachment = {
        "color": RED,
        "fallback": f"FLX pipeline {pipeline} failed",
        "title": f"Execution {event.aggregate_id[:12]} failed",
        "text": f"```{_escape(error)}```",
        "fields": [
            {"title": "Pipeline", "value": pipeline, "short": True},
            {"title": "Duration", "value": _duration(event.duration_seconds), "short": True},
            {"title": "Execution", "value": event.aggregate_id, "short": False},
        ],
        "ts": int(event.occurred_at.timestamp()),
    }
    return _message(
        options, f":red_circle: FLX pipeline *{pipeline}* failed", attachment, event.aggregate_id
    )


def recovery_message(
    options: NotifierOptions, event: ExecutionSucceeded, failures: int, more: bool
) -> dict[str, Any]:
    """``failures``: the failed executions before this success (``more``: at least)."""
    pipeline = _escape(event.pipeline_name)
    after = f"{failures}{'+' if more else ''} failed execution{'s' if failures != 1 else ''}"
    attachment = {
        "color": GREEN,
        "fallback": f"FLX pipeline {pipeline} recovered",
        "title": f"Execution {event.aggregate_id[:12]} succeeded after {after}",
        "fields": [
            {"title": "Pipeline", "value": pipeline, "short": True},
            {"title": "Duration", "value": _duration(event.duration_seconds), "short": True},
            {"title": "Records", "value": f"{event.records:,}", "short": True},
            {"title": "Execution", "value": event.aggregate_id, "short": False},
        ],
        "ts": int(event.occurred_at.timestamp()),
    }
    return _message(
        options,
        f":large_green_circle: FLX pipeline *{pipeline}* recovered",
        attachment,
        event.aggregate_id,
    )

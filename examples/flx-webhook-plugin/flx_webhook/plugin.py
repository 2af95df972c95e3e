"""The plugin object: subscribes to failed executions and adds `flx webhook test`."""

from __future__ import annotations

import asyncio
import json
import os
import urllib.request
from typing import Any

import click

from flx_core.domain.events import ExecutionFailed


def post_json(url: str, payload: dict[str, Any], timeout: float = 10.0) -> int:
    request = urllib.request.Request(  # noqa: S310 - the operator configures the URL
        url,
        data=json.dumps(payload).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "flx-webhook/1.0"},
    )
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return int(response.status)


def webhook_url() -> str | None:
    return os.environ.get("FLX_WEBHOOK_URL") or None


@click.group("webhook")
def webhook_group() -> None:
    """The webhook plugin's commands."""


@webhook_group.command("test")
@click.option("--url", default=None, help="Where to post (default: FLX_WEBHOOK_URL).")
def test_command(url: str | None) -> None:
    """Send a test payload to the webhook."""
    target = url or webhook_url()
    if not target:
        raise click.ClickException("no URL: give --url or set FLX_WEBHOOK_URL")
    try:
        status = post_json(target, {"event": "test", "source": "flx"})
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot post to {target}: {exc}") from None
    click.echo(f"posted test payload to {target}: HTTP {status}")


class WebhookPlugin:
    manifest = {
        "name": "webhook",
        "version": "1.0.0",
        "kind": "extension",
        "flx": ">=0.1",
        "description": "Posts a JSON webhook when a pipeline execution fails",
        "provides": ["event:ExecutionFailed", "cli:webhook"],
    }

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []

    def activate(self, context: Any) -> None:
        context.add_cli_command(webhook_group)
        if context.app is not None:
            context.subscribe(ExecutionFailed, self.on_failed)

    def deactivate(self, context: Any) -> None:
        return None

    async def on_failed(self, event: ExecutionFailed, ctx: Any) -> None:
        url = webhook_url()
        if not url:
            return
        payload = {
            "event": "execution_failed",
            "execution_id": event.aggregate_id,
            "pipeline": event.pipeline_name,
            "error": event.error,
            "duration_seconds": event.duration_seconds,
            "occurred_at": event.occurred_at.isoformat(),
        }
        await asyncio.to_thread(post_json, url, payload)
        self.sent.append(payload)

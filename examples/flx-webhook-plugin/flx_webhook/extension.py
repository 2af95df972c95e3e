"""The extension: a webhook on failed executions, and `flx webhook test`.

The URL comes from ``FLX_WEBHOOK_URL``, else from the extension's options in
``$FLX_HOME/extensions.toml``::

    [extensions.webhook]
    url = "https://hooks.example.com/flx"
    timeout = 5
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import click

from flx_core.domain.events import ExecutionFailed
from flx_plugin import ExtensionContext, FlxExtension

from .post import post_json

URL_VARIABLE = "FLX_WEBHOOK_URL"


def webhook_url(options: Mapping[str, Any]) -> str | None:
    url = os.environ.get(URL_VARIABLE) or options.get("url")
    return str(url) if url else None


def failure_payload(event: ExecutionFailed) -> dict[str, Any]:
    return {
        "event": "execution_failed",
        "execution_id": event.aggregate_id,
        "pipeline": event.pipeline_name,
        "error": event.error,
        "duration_seconds": event.duration_seconds,
        "occurred_at": event.occurred_at.isoformat(),
    }


def webhook_commands(options: Mapping[str, Any]) -> click.Group:
    @click.group("webhook")
    def group() -> None:
        """The webhook extension: posts JSON when an execution fails."""

    @group.command("test")
    @click.option("--url", default=None, help=f"Where to post (default: {URL_VARIABLE}).")
    def test(url: str | None) -> None:
        """Send a test payload to the webhook."""
        target = url or webhook_url(options)
        if not target:
            raise click.ClickException(f"no URL: give --url, set {URL_VARIABLE} or extensions.toml")
        payload = {"event": "test", "source": "flx", "sent_at": datetime.now(UTC).isoformat()}
        try:
            status = post_json(target, payload, float(options.get("timeout", 10)))
        except (OSError, ValueError) as exc:
            raise click.ClickException(f"cannot post to {target}: {exc}") from None
        click.echo(f"posted a test payload to {target}: HTTP {status}")

    return group


class WebhookExtension(FlxExtension):
    name = "webhook"
    version = "1.0.0"
    description = "Posts a JSON webhook when a pipeline execution fails"
    flx = ">=0.1"
    provides = ("event:ExecutionFailed", "cli:webhook")

    def activate(self, context: ExtensionContext) -> None:
        self.context = context
        context.add_cli_command(webhook_commands(context.config))
        context.subscribe(ExecutionFailed, self.on_failed)

    async def on_failed(self, event: ExecutionFailed, handler_context: Any) -> None:
        url = webhook_url(self.context.config)
        if url is None:
            return
        timeout = float(self.context.config.get("timeout", 10))
        try:
            await asyncio.to_thread(post_json, url, failure_payload(event), timeout)
        except (OSError, ValueError) as exc:
            self.context.log.warning(
                "webhook_post_failed", host=urlsplit(url).hostname, error=str(exc)
            )

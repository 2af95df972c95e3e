"""The notifier extension: a message when an execution fails, and one when a pipeline
recovers (an execution succeeds and the one that ended before it had failed).

It is built into flx-plugin and loads when ``$FLX_HOME/extensions.toml`` has an
``[extensions.notifier]`` table (see ``options``); ``enabled = false`` there turns it off.

The messages are sent by the process that records the execution's end (``flx run``,
``flx serve``, a worker), once the end is committed, before that process moves on: a
``flx run`` that ends is not cut off before its message went out. The retries bound that
time (``attempts`` x ``timeout`` plus the backoff).
"""

from __future__ import annotations

from typing import Any

from flx_core.domain import ExecutionStatus
from flx_core.domain.events import ExecutionFailed, ExecutionSucceeded
from flx_core.domain.ports import ExecutionFilter
from flx_plugin.context import ExtensionContext
from flx_plugin.extension import FlxExtension
from flx_plugin.notifier.options import NotifierOptions
from flx_plugin.notifier.payloads import failure_message, recovery_message
from flx_plugin.notifier.sender import Delivery, WebhookSender

#: How far back a recovery counts the failures before it.
LOOK_BACK = 20
_ENDED = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED})


class NotifierExtension(FlxExtension):
    name = "notifier"
    version = "1.0.0"
    description = "Slack-compatible messages on failed executions and on recovery"
    flx = ">=0.1"
    provides = ("event:ExecutionFailed", "event:ExecutionSucceeded")

    def __init__(self) -> None:
        self.options = NotifierOptions()
        self.sender = WebhookSender(self.options)
        #: What each message came to (the last few), for tests and `flx extension info`.
        self.deliveries: list[Delivery] = []

    def activate(self, context: ExtensionContext) -> None:
        self.options = NotifierOptions.read(context.config)
        self.sender = WebhookSender(self.options)
        if self.options.url is None:
            context.log.warning(
                "notifier_without_url",
                note="set [extensions.notifier] url in extensions.toml or FLX_NOTIFIER_URL",
            )
            return
        context.subscribe(ExecutionFailed, self.on_failed)
        context.subscribe(ExecutionSucceeded, self.on_succeeded)

    async def on_failed(self, event: ExecutionFailed, ctx: Any) -> None:
        if self.options.wants("failure", event.pipeline_name):
            await self._send(failure_message(self.options, event), "failure", event.pipeline_name)

    async def on_succeeded(self, event: ExecutionSucceeded, ctx: Any) -> None:
        if not self.options.wants("recovery", event.pipeline_name):
            return
        page = await ctx.uow.executions.list(
            ExecutionFilter(pipeline_name=event.pipeline_name, statuses=_ENDED),
            limit=LOOK_BACK + 1,
        )
        before = [e for e in page.items if e.id != event.aggregate_id]
        failures = 0
        for execution in before:
            if execution.status is not ExecutionStatus.FAILED:
                break
            failures += 1
        if failures:
            more = failures == len(before) and len(before) >= LOOK_BACK
            message = recovery_message(self.options, event, failures, more)
            await self._send(message, "recovery", event.pipeline_name)

    async def _send(self, payload: dict[str, Any], kind: str, pipeline: str) -> None:
        delivery = await self.sender.send(payload, kind=kind, pipeline=pipeline)
        self.deliveries = [*self.deliveries[-19:], delivery]

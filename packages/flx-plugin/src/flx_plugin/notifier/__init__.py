"""The built-in notifier: Slack-compatible messages when an execution fails and when a
pipeline recovers (its first success after failures). See ``extension`` for its options."""

from flx_plugin.notifier.extension import NotifierExtension as NotifierExtension
from flx_plugin.notifier.options import NotifierOptions as NotifierOptions
from flx_plugin.notifier.sender import WebhookSender as WebhookSender

__all__ = ["NotifierExtension", "NotifierOptions", "WebhookSender"]

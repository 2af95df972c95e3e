"""Example FLX plugin: POST a JSON document to a webhook when an execution fails.

The URL comes from ``FLX_WEBHOOK_URL``. Loaded from a plugin directory (this folder, with
its ``flx-plugin.toml``) or from the ``flx.plugins`` entry point of its distribution.
"""

from __future__ import annotations

from .plugin import WebhookPlugin

plugin = WebhookPlugin()

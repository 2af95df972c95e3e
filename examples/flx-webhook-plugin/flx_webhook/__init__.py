"""Example FLX plugin: POST a JSON document to a webhook when a pipeline execution fails.

Loaded from a plugin folder (this directory, with its ``flx-plugin.toml``) or through the
``flx.plugins`` entry point of its distribution. Modules refer to each other with relative
imports, as folder plugins must.
"""

from __future__ import annotations

from .plugin import WebhookPlugin

__all__ = ["WebhookPlugin"]

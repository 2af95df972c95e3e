"""Example FLX extension: POST a JSON document to a webhook when a pipeline execution fails.

Loaded from an extension folder (this directory, with its ``flx-extension.toml``) or through
the ``flx.extensions`` entry point of its distribution. Modules refer to each other with
relative imports, as folder extensions must.
"""

from __future__ import annotations

from .extension import WebhookExtension

__all__ = ["WebhookExtension"]

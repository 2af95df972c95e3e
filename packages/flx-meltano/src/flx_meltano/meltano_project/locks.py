"""Lock files: ``plugins/<type>/<name>--<variant>.lock``, the plugin definitions Meltano
pinned when the plugin was added (settings, pip_url, capabilities)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from flx_meltano.meltano_project.model import ProjectError


def read_lock(root: Path, plugin_type: str, name: str, variant: str | None) -> dict[str, Any]:
    """The lock of a plugin, or ``{}`` when the project has none."""
    folder = root / "plugins" / plugin_type
    # Meltano's own name for it: ``<name>--<variant>.lock``, or ``<name>.lock`` for a
    # plugin without a variant; then any variant's lock of the plugin.
    candidates = [folder / (f"{name}--{variant}.lock" if variant else f"{name}.lock")]
    candidates += sorted(folder.glob(f"{name}--*.lock")) if folder.is_dir() else []
    for path in candidates:
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise ProjectError(f"{path}: not valid JSON: {exc}") from None
            return data if isinstance(data, dict) else {}
    return {}

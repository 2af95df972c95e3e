"""The command a plugin runs as: its venv's executable, or one on PATH."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from flx_core.domain import Plugin, ValidationFailed


def venv_dir(plugin: Plugin, plugins_root: Path) -> Path:
    return plugins_root / plugin.plugin_type.value / plugin.name / "venv"


def plugin_command(plugin: Plugin, plugins_root: Path) -> str:
    executable = plugin.executable or plugin.name
    if plugin.pip_url:
        candidate = venv_dir(plugin, plugins_root) / "bin" / executable
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
        raise ValidationFailed(
            f"plugin {plugin.name!r} is not installed (no {executable} in its venv): "
            f"run `flx plugin install {plugin.name}`",
            plugin=plugin.name,
        )
    if "/" in executable:
        if Path(executable).is_file() and os.access(executable, os.X_OK):
            return executable
        raise ValidationFailed(
            f"plugin {plugin.name!r}: executable {executable} does not exist or is not executable",
            plugin=plugin.name,
        )
    found = shutil.which(executable)
    if found is None:
        raise ValidationFailed(
            f"plugin {plugin.name!r}: executable {executable!r} not found on PATH; give "
            "--pip-url to install it or --executable with its path",
            plugin=plugin.name,
        )
    return found

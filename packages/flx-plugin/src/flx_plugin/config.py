"""Where plugins live, and ``$FLX_HOME/plugins.toml``: pins, disables and plugin options.

    [plugins.alerts]
    version = ">=1.2,<2"   # load only a version in this range (a PEP 440 specifier)
    enabled = false        # do not load it at all

    [plugins.webhook]
    url = "https://hooks.example.com/flx"   # any other key is the plugin's own option

A plugin reads its options as ``context.config`` (a read-only mapping).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

CONFIG_NAME = "plugins.toml"
_RESERVED = ("version", "enabled")


class PluginConfigError(Exception):
    """``plugins.toml`` cannot be used; the message names the file and the key."""


@dataclass
class PluginConfig:
    watch_dir: Path
    pins: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    flx_version: str = "0.0.0"
    #: The ``plugins.toml`` this was read from (it may not exist).
    path: Path | None = None


def flx_version() -> str:
    """The installed FLX version that manifests' ``flx`` specifiers are checked against."""
    try:
        return version("flx-core")
    except PackageNotFoundError:
        return "0.0.0"


def watch_directory(settings: Any) -> Path:
    configured = settings.plugin_watch_directory
    path = Path(configured) if configured else Path(settings.home_path) / "plugins.d"
    return path.expanduser().resolve()


def load_plugin_config(settings: Any) -> PluginConfig:
    """The plugin configuration of these settings (raises PluginConfigError on a bad file)."""
    path = Path(settings.home_path) / CONFIG_NAME
    return reread(
        PluginConfig(watch_dir=watch_directory(settings), flx_version=flx_version(), path=path)
    )


def reread(config: PluginConfig) -> PluginConfig:
    """A copy of ``config`` with pins, disables and options read again from its file."""
    pins: dict[str, str] = {}
    disabled: set[str] = set()
    options: dict[str, dict[str, Any]] = {}
    path = config.path
    if path is not None and path.is_file():
        for name, entry in _tables(path).items():
            if "version" in entry:
                pins[name] = _specifier(path, name, entry["version"])
            enabled = entry.get("enabled", True)
            if not isinstance(enabled, bool):
                raise PluginConfigError(f"{path}: plugins.{name}.enabled must be true or false")
            if not enabled:
                disabled.add(name)
            options[name] = {k: v for k, v in entry.items() if k not in _RESERVED}
    return replace(config, pins=pins, disabled=disabled, options=options)


def _tables(path: Path) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise PluginConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise PluginConfigError(f"{path}: cannot read: {exc.strerror}") from None
    plugins = data.get("plugins", {})
    if not isinstance(plugins, dict):
        raise PluginConfigError(f"{path}: 'plugins' must be a table")
    for name, entry in plugins.items():
        if not isinstance(entry, dict):
            raise PluginConfigError(f"{path}: [plugins.{name}] must be a table")
    return plugins


def _specifier(path: Path, name: str, value: Any) -> str:
    try:
        SpecifierSet(str(value))
    except InvalidSpecifier:
        raise PluginConfigError(
            f"{path}: plugins.{name}.version {value!r} is not a version specifier "
            "(e.g. '==1.2.0' or '>=1,<2')"
        ) from None
    return str(value)

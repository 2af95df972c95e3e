"""Where plugins live and the pins/disables of ``$FLX_HOME/plugins.toml``.

[plugins.alerts]
version = ">=1.2,<2"   # load only a version in this range
enabled = false        # do not load it at all
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet


class PluginConfigError(Exception):
    pass


@dataclass
class PluginConfig:
    watch_dir: Path
    pins: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    flx_version: str = "0.0.0"


def flx_version() -> str:
    try:
        return version("flx-core")
    except PackageNotFoundError:
        return "0.0.0"


def load_plugin_config(settings: Any) -> PluginConfig:
    home = Path(settings.home_path)
    watch = Path(settings.plugin_watch_directory or home / "plugins.d").expanduser()
    config = PluginConfig(watch_dir=watch.resolve(), flx_version=flx_version())
    path = home / "plugins.toml"
    if not path.exists():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise PluginConfigError(f"{path}: invalid TOML: {exc}") from None
    for name, entry in (data.get("plugins") or {}).items():
        if not isinstance(entry, dict):
            raise PluginConfigError(f"{path}: [plugins.{name}] must be a table")
        if "version" in entry:
            try:
                SpecifierSet(str(entry["version"]))
            except InvalidSpecifier:
                raise PluginConfigError(
                    f"{path}: plugins.{name}.version {entry['version']!r} is not a version "
                    "specifier"
                ) from None
            config.pins[name] = str(entry["version"])
        if entry.get("enabled") is False:
            config.disabled.add(name)
    return config

"""Where extensions live, and ``$FLX_HOME/extensions.toml``: pins, disables and options.

    [extensions.alerts]
    version = ">=1.2,<2"   # load only a version in this range (a PEP 440 specifier)
    enabled = false        # do not load it at all

    [extensions.webhook]
    url = "https://hooks.example.com/flx"   # any other key is the extension's own option

An extension reads its options as ``context.config`` (a read-only mapping).

Earlier names are still read: ``$FLX_HOME/plugins.toml`` (tables ``[plugins.<name>]``) when
there is no ``extensions.toml``, and ``$FLX_HOME/plugins.d`` as the watched directory when
there is no ``extensions.d``.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field, replace
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import structlog
from packaging.specifiers import InvalidSpecifier, SpecifierSet

CONFIG_NAME = "extensions.toml"
#: Read when there is no ``extensions.toml`` beside it (its tables are ``[plugins.<name>]``).
LEGACY_CONFIG_NAME = "plugins.toml"
WATCH_DIR_NAME = "extensions.d"
#: Watched when it exists and ``extensions.d`` does not.
LEGACY_WATCH_DIR_NAME = "plugins.d"
_TABLES = {CONFIG_NAME: "extensions", LEGACY_CONFIG_NAME: "plugins"}
_RESERVED = ("version", "enabled")

log = structlog.get_logger(__name__)


class ExtensionConfigError(Exception):
    """``extensions.toml`` cannot be used; the message names the file and the key."""


@dataclass
class ExtensionConfig:
    watch_dir: Path
    pins: dict[str, str] = field(default_factory=dict)
    disabled: set[str] = field(default_factory=set)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    flx_version: str = "0.0.0"
    #: The configuration file read (``extensions.toml``, or ``plugins.toml`` when only that
    #: one exists); it may not exist.
    path: Path | None = None

    @property
    def file_name(self) -> str:
        """The name reasons give for pins and disables (``extensions.toml``)."""
        return self.path.name if self.path is not None else CONFIG_NAME


def flx_version() -> str:
    """The installed FLX version that manifests' ``flx`` specifiers are checked against."""
    try:
        return version("flx-core")
    except PackageNotFoundError:
        return "0.0.0"


def watch_directory(settings: Any) -> Path:
    """The configured directory, else ``$FLX_HOME/extensions.d`` (or an existing
    ``$FLX_HOME/plugins.d`` when there is no ``extensions.d``)."""
    configured = settings.plugin_watch_directory
    if configured:
        path = Path(configured)
    else:
        home = Path(settings.home_path)
        path = home / WATCH_DIR_NAME
        legacy = home / LEGACY_WATCH_DIR_NAME
        if legacy.is_dir() and not path.is_dir():
            path = legacy
    return path.expanduser().resolve()


def config_names(path: Path) -> frozenset[str]:
    """The file names that stand for the configuration file ``path`` (a watcher follows them)."""
    return frozenset(_TABLES) if path.name in _TABLES else frozenset({path.name})


def config_file(path: Path) -> Path:
    """The file to read for ``path``: ``extensions.toml``, unless only ``plugins.toml`` exists."""
    if path.name not in _TABLES:
        return path
    current = path.with_name(CONFIG_NAME)
    legacy = path.with_name(LEGACY_CONFIG_NAME)
    if legacy.is_file() and not current.is_file():
        return legacy
    if legacy.is_file():
        log.warning("extension_config_legacy_ignored", read=str(current), ignored=str(legacy))
    return current


def load_extension_config(settings: Any) -> ExtensionConfig:
    """The extension configuration of these settings (ExtensionConfigError on a bad file)."""
    path = Path(settings.home_path) / CONFIG_NAME
    return reread(
        ExtensionConfig(watch_dir=watch_directory(settings), flx_version=flx_version(), path=path)
    )


def reread(config: ExtensionConfig) -> ExtensionConfig:
    """A copy of ``config`` with pins, disables and options read again from its file."""
    pins: dict[str, str] = {}
    disabled: set[str] = set()
    options: dict[str, dict[str, Any]] = {}
    path = config_file(config.path) if config.path is not None else None
    if path is not None and path.is_file():
        table = _TABLES.get(path.name, "extensions")
        for name, entry in _tables(path, table).items():
            if "version" in entry:
                pins[name] = _specifier(path, f"{table}.{name}", entry["version"])
            enabled = entry.get("enabled", True)
            if not isinstance(enabled, bool):
                raise ExtensionConfigError(f"{path}: {table}.{name}.enabled must be true or false")
            if not enabled:
                disabled.add(name)
            options[name] = {k: v for k, v in entry.items() if k not in _RESERVED}
    return replace(config, pins=pins, disabled=disabled, options=options, path=path)


def _tables(path: Path, table: str) -> dict[str, dict[str, Any]]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ExtensionConfigError(f"{path}: invalid TOML: {exc}") from None
    except OSError as exc:
        raise ExtensionConfigError(f"{path}: cannot read: {exc.strerror}") from None
    entries = data.get(table, {})
    if not isinstance(entries, dict):
        raise ExtensionConfigError(f"{path}: {table!r} must be a table")
    for name, entry in entries.items():
        if not isinstance(entry, dict):
            raise ExtensionConfigError(f"{path}: [{table}.{name}] must be a table")
    return entries


def _specifier(path: Path, key: str, value: Any) -> str:
    try:
        SpecifierSet(str(value))
    except InvalidSpecifier:
        raise ExtensionConfigError(
            f"{path}: {key}.version {value!r} is not a version specifier "
            "(e.g. '==1.2.0' or '>=1,<2')"
        ) from None
    return str(value)

"""Extensions that come with FLX: each loads when ``extensions.toml`` has its table (its
options), so that a process with none configured scans and imports nothing for them."""

from __future__ import annotations

from importlib.metadata import EntryPoint

from flx_plugin.config import ExtensionConfig
from flx_plugin.discovery import ENTRY_POINT_GROUP, DiscoveredExtension, from_entry_point

#: Name -> the object carrying its manifest.
BUILTIN = {"notifier": "flx_plugin.notifier:NotifierExtension"}
DISTRIBUTION = "flx-plugin (built in)"


def configured_builtins(config: ExtensionConfig) -> list[str]:
    """The built-in extensions ``config`` has options for (and does not disable)."""
    return sorted(n for n in BUILTIN if n in config.options and n not in config.disabled)


def scan_builtins(config: ExtensionConfig) -> list[DiscoveredExtension]:
    found = []
    for name in configured_builtins(config):
        extension = from_entry_point(EntryPoint(name, BUILTIN[name], ENTRY_POINT_GROUP))
        extension.distribution = DISTRIBUTION
        found.append(extension)
    return found

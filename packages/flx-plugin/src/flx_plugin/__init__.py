"""FLX extension plugins: discovery, manifests, resolution, loading and hot reload.

plugins = await PluginDiscovery("/opt/flx/plugins").scan()
loaded = await PluginLoader().load_plugin(plugins[0])
"""

from __future__ import annotations

from typing import Any

from flx_plugin.config import (
    PluginConfig as PluginConfig,
    PluginConfigError as PluginConfigError,
    load_plugin_config as load_plugin_config,
)
from flx_plugin.context import (
    ExtensionRegistry as ExtensionRegistry,
    PluginContext as PluginContext,
)
from flx_plugin.discovery import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
    DiscoveredPlugin as DiscoveredPlugin,
    PluginDiscovery as PluginDiscovery,
)
from flx_plugin.loader import (
    LoadedPlugin as LoadedPlugin,
    PluginLoader as PluginLoader,
    PluginLoadError as PluginLoadError,
)
from flx_plugin.manager import PluginManager as PluginManager, PluginRecord as PluginRecord
from flx_plugin.manifest import (
    MANIFEST_NAME as MANIFEST_NAME,
    ManifestError as ManifestError,
    PluginManifest as PluginManifest,
    load_manifest as load_manifest,
)
from flx_plugin.resolver import Resolution as Resolution, resolve as resolve
from flx_plugin.status import read_status as read_status
from flx_plugin.watcher import watch as watch


def extension_rows(settings: Any) -> list[dict[str, Any]]:
    """Every extension plugin with kind, version, source, state and reason.

    From the status file of a running ``flx plugin watch`` when there is one (what it has
    active), else from a fresh discovery and resolution (what would load).
    """
    config = load_plugin_config(settings)
    live = read_status(config.watch_dir)
    if live is not None:
        return [dict(row, live=True) for row in live["plugins"]]
    manager = PluginManager(config, settings=settings)
    found = manager.discover()
    resolution = manager.resolve(found)
    rows = []
    chosen = {p.name: p for p in resolution.order}
    for plugin in found:
        name = plugin.name
        if name in chosen and chosen[name] is not plugin:
            state, reason = "inactive", f"another version ({chosen[name].version}) is chosen"
        elif name in chosen:
            state, reason = "resolved", None
        elif name in resolution.disabled:
            state, reason = "inactive", "disabled in plugins.toml"
        else:
            state, reason = "failed", resolution.failed.get(name, plugin.error)
        m = plugin.manifest
        rows.append(
            {
                "name": name,
                "kind": m.kind if m else None,
                "version": m.version if m else None,
                "source": plugin.source,
                "location": plugin.location,
                "state": state,
                "reason": reason,
                "live": False,
            }
        )
    return rows

"""What the CLI and other processes ask about extension plugins without running them."""

from __future__ import annotations

from typing import Any

from flx_plugin.config import PluginConfig, load_plugin_config
from flx_plugin.discovery import DiscoveredPlugin
from flx_plugin.manager import PluginManager
from flx_plugin.records import PluginState, plugin_row
from flx_plugin.resolver import Resolution, best_by_name, versions_by_name
from flx_plugin.status import read_status


def _offline(
    config: PluginConfig, settings: Any
) -> tuple[PluginManager, list[DiscoveredPlugin], Resolution]:
    manager = PluginManager(config, settings=settings)
    found = manager.discover()
    return manager, found, manager.resolve(found)


def extension_rows(settings: Any) -> list[dict[str, Any]]:
    """Every extension plugin: name, kind, version, source, state, reason (and more).

    From the status file of a running ``flx plugin watch`` when there is one (what it has
    active, ``live: true``), else from a fresh discovery and resolution (what would load:
    ``resolved``, ``failed`` or ``inactive``; ``live: false``). Raises PluginConfigError when
    ``plugins.toml`` is unusable.
    """
    config = load_plugin_config(settings)
    status = read_status(config.watch_dir)
    if status is not None:
        return [dict(row, live=True) for row in status.get("plugins", [])]
    _manager, found, resolution = _offline(config, settings)
    versions = versions_by_name(found)
    best = best_by_name(found)
    rows = [
        plugin_row(p, PluginState.RESOLVED, versions=versions[p.name]) for p in resolution.order
    ]
    for name, reason in resolution.failed.items():
        rows.append(plugin_row(best[name], PluginState.FAILED, reason, versions=versions[name]))
    for name in resolution.disabled:
        rows.append(
            plugin_row(
                best[name],
                PluginState.INACTIVE,
                "disabled in plugins.toml",
                versions=versions[name],
            )
        )
    for plugin in found:
        if plugin.manifest is None:
            rows.append(plugin_row(plugin, PluginState.FAILED, plugin.error))
    rows.sort(key=lambda r: (r["name"], r["source"]))
    return [dict(row, live=False) for row in rows]


def resolution_report(settings: Any) -> dict[str, Any]:
    """What ``flx plugin doctor`` shows: load order, failures, conflicts, cycles, and more."""
    manager, _found, res = _offline(load_plugin_config(settings), settings)
    return {
        "ok": res.ok,
        "watch_dir": str(manager.config.watch_dir),
        "flx_version": manager.config.flx_version,
        "order": [{"name": p.name, "version": p.version, "source": p.source} for p in res.order],
        "failed": dict(sorted(res.failed.items())),
        "invalid": dict(sorted(res.invalid.items())),
        "conflicts": res.conflicts,
        "cycles": res.cycles,
        "disabled": res.disabled,
        "not_chosen": res.not_chosen,
    }

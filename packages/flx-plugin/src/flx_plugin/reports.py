"""What the CLI and other processes ask about extensions without running them."""

from __future__ import annotations

from typing import Any

from flx_plugin.config import ExtensionConfig, load_extension_config
from flx_plugin.discovery import DiscoveredExtension
from flx_plugin.manager import ExtensionManager
from flx_plugin.records import ExtensionState, extension_row
from flx_plugin.resolver import Resolution, best_by_name, versions_by_name
from flx_plugin.status import read_status, status_rows


def _offline(
    config: ExtensionConfig, settings: Any
) -> tuple[ExtensionManager, list[DiscoveredExtension], Resolution]:
    manager = ExtensionManager(config, settings=settings)
    found = manager.discover()
    return manager, found, manager.resolve(found)


def extension_rows(settings: Any) -> list[dict[str, Any]]:
    """Every extension: name, kind, version, source, state, reason (and more).

    From the status file of a running ``flx extension watch`` when there is one (what it has
    active, ``live: true``), else from a fresh discovery and resolution (what would load:
    ``resolved``, ``failed`` or ``inactive``; ``live: false``). Raises ExtensionConfigError when
    ``extensions.toml`` is unusable.
    """
    config = load_extension_config(settings)
    status = read_status(config.watch_dir)
    if status is not None:
        return [dict(row, live=True) for row in status_rows(status)]
    _manager, found, resolution = _offline(config, settings)
    versions = versions_by_name(found)
    best = best_by_name(found)
    rows = [
        extension_row(p, ExtensionState.RESOLVED, versions=versions[p.name])
        for p in resolution.order
    ]
    for name, reason in resolution.failed.items():
        rows.append(
            extension_row(best[name], ExtensionState.FAILED, reason, versions=versions[name])
        )
    for name in resolution.disabled:
        rows.append(
            extension_row(
                best[name],
                ExtensionState.INACTIVE,
                f"disabled in {config.file_name}",
                versions=versions[name],
            )
        )
    for extension in found:
        if extension.manifest is None:
            rows.append(extension_row(extension, ExtensionState.FAILED, extension.error))
    rows.sort(key=lambda r: (r["name"], r["source"]))
    return [dict(row, live=False) for row in rows]


def resolution_report(settings: Any) -> dict[str, Any]:
    """What ``flx extension doctor`` shows: load order, failures, conflicts, cycles, and more."""
    manager, _found, res = _offline(load_extension_config(settings), settings)
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

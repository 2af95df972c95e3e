"""Hot reload: watch the plugin directory and apply each debounced batch of changes."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, awatch

from flx_plugin.manager import PluginManager
from flx_plugin.status import STATUS_FILE


def _relevant(change: Change, path: str) -> bool:
    name = Path(path).name
    return not (
        name == STATUS_FILE
        or name.startswith(".status-")
        or "__pycache__" in path
        or name.endswith((".pyc", ".swp", "~"))
    )


async def watch(
    manager: PluginManager,
    stop: asyncio.Event,
    on_batch: Callable[[list[str]], None] | None = None,
    debounce_ms: int = 400,
) -> None:
    """Until ``stop`` is set: reload, load or unload plugin folders as their files change.

    watchfiles groups a burst of writes into one batch (``debounce_ms``), and the manager
    acts once per folder in a batch, so a flurry of saves gives one reload.
    """
    manager.config.watch_dir.mkdir(parents=True, exist_ok=True)
    async for changes in awatch(
        manager.config.watch_dir,
        stop_event=stop,
        watch_filter=_relevant,
        debounce=debounce_ms,
        step=50,
        recursive=True,
    ):
        before = len(manager.events)
        manager.handle_changes([Path(p) for _, p in changes])
        if on_batch is not None:
            on_batch(manager.events[before:])

"""Following file changes: the watch directory (recursively) and ``extensions.toml``.

watchfiles groups a burst of writes into one batch (a batch ends after ``step_ms`` without
a change, or after ``debounce_ms`` in any case); the manager then acts once per extension
folder of the batch, so a flurry of saves gives one reload.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from functools import partial
from pathlib import Path

from watchfiles import Change, awatch

from flx_plugin.config import config_names
from flx_plugin.status import STATUS_FILE, TEMP_PREFIX

_NOISE_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~")


def is_relevant(change: Change, path: str) -> bool:
    """Not bytecode, editor droppings, nor the status file the watcher writes itself."""
    p = Path(path)
    return not (
        "__pycache__" in p.parts
        or p.name == STATUS_FILE
        or p.name.startswith((TEMP_PREFIX, ".#"))
        or p.name.endswith(_NOISE_SUFFIXES)
    )


async def _follow(
    path: Path,
    *,
    recursive: bool,
    keep: Callable[[Change, str], bool],
    stop: asyncio.Event,
    on_change: Callable[[list[Path]], None],
    debounce_ms: int,
    step_ms: int,
) -> None:
    async for batch in awatch(
        path,
        watch_filter=keep,
        stop_event=stop,
        debounce=debounce_ms,
        step=step_ms,
        recursive=recursive,
    ):
        on_change(sorted({Path(p) for _, p in batch}))


async def watch_files(
    watch_dir: Path,
    config_file: Path | None,
    stop: asyncio.Event,
    on_change: Callable[[list[Path]], None],
    *,
    debounce_ms: int = 800,
    step_ms: int = 100,
) -> None:
    """Call ``on_change(paths)`` for each batch of changes until ``stop`` is set."""
    follow = partial(
        _follow, stop=stop, on_change=on_change, debounce_ms=debounce_ms, step_ms=step_ms
    )
    async with asyncio.TaskGroup() as group:
        group.create_task(follow(watch_dir, recursive=True, keep=is_relevant))
        if config_file is not None and config_file.parent.is_dir():
            names = config_names(config_file)

            def is_config(change: Change, path: str) -> bool:
                return Path(path).name in names

            group.create_task(follow(config_file.parent, recursive=False, keep=is_config))

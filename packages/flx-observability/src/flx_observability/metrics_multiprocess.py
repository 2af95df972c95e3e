"""prometheus_client's multiprocess mode for FLX's processes that answer for several
(uvicorn workers, Celery pool children).

This module imports nothing of prometheus_client at load time: the directory must be in the
environment before the first import of it, in the parent and (through inheritance, or
the fork) in every child.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_ENV)
    return Path(value) if value else None


def use_multiprocess_dir(directory: Path) -> Path:
    """Make ``directory`` (emptied) the multiprocess directory of this process and of the
    processes it starts; to be called before they import prometheus_client, unless the
    environment names one already (which is then used as it is)."""
    current = multiprocess_dir()
    if current is not None:
        current.mkdir(parents=True, exist_ok=True)
        return current
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True, mode=0o700)
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory


def process_registry() -> CollectorRegistry:
    """What this process exposes of the process metrics: its own (with the Python and
    process collectors), or, in multiprocess mode, the sum of every process's files."""
    directory = multiprocess_dir()
    if directory is None:
        from prometheus_client import REGISTRY

        return REGISTRY
    from prometheus_client import CollectorRegistry, multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=str(directory))  # type: ignore[no-untyped-call]
    return registry


def mark_process_dead(pid: int) -> None:
    """Forget the live gauges of process ``pid`` (a pool child or worker that ended)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]

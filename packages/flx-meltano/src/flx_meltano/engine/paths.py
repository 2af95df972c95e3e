"""Where the engine keeps things under FLX_HOME."""

from __future__ import annotations

from pathlib import Path


def logs_dir(home: Path, pipeline: str) -> Path:
    return home / "logs" / pipeline


def log_path(home: Path, pipeline: str, execution_id: str) -> Path:
    return logs_dir(home, pipeline) / f"{execution_id}.log"


def catalog_dir(home: Path) -> Path:
    return home / "catalogs"

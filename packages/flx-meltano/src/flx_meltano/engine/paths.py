"""Where the engine keeps things under FLX_HOME."""

from __future__ import annotations

import re
from pathlib import Path

#: What an execution id may look like in a file name (ids are hex; this refuses paths).
_FILE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def logs_dir(home: Path, pipeline: str) -> Path:
    return home / "logs" / pipeline


def log_path(home: Path, pipeline: str, execution_id: str) -> Path:
    return logs_dir(home, pipeline) / f"{execution_id}.log"


def find_log_path(home: Path, execution_id: str) -> Path | None:
    """The log file of ``execution_id`` under ``home`` whatever its pipeline was named (the
    pipeline may have been renamed or deleted since), or None."""
    if not _FILE_ID.fullmatch(execution_id):
        return None
    for path in (home / "logs").glob(f"*/{execution_id}.log"):
        if path.is_file():
            return path
    return None


def catalog_dir(home: Path) -> Path:
    return home / "catalogs"

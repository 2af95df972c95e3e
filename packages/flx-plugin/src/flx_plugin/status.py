"""The live status a watcher writes for other processes (``.status.json`` in the watch dir)."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

STATUS_FILE = ".status.json"


def write_status(directory: Path, rows: list[dict[str, Any]], pid: int) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=".status-", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump({"pid": pid, "plugins": rows}, fh, indent=2, default=str)
    os.replace(tmp, directory / STATUS_FILE)


def read_status(directory: Path) -> dict[str, Any] | None:
    """The status of a running watcher, or None when none is alive."""
    path = directory / STATUS_FILE
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    pid = data.get("pid")
    if not isinstance(pid, int):
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return None
    except PermissionError:
        pass
    return data

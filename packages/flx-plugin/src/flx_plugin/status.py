"""What a running watcher shares with other processes, through files in the watch directory.

- ``.status.json``: every extension with its state, written atomically (temp file + rename)
  whenever it changes, with the watcher's pid so a stale file is recognised;
- ``.requests/<token>.json``: a request from another process (``flx extension reload NAME``);
  the watcher answers in the status file under ``requests.<token>``.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path
from typing import Any

from flx_core.infrastructure.processes import pid_alive

STATUS_FILE = ".status.json"
REQUESTS_DIR = ".requests"
TEMP_PREFIX = ".tmp-"


def _write_atomically(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=TEMP_PREFIX, suffix=".json")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=2, default=str)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_status(directory: Path, status: dict[str, Any]) -> None:
    _write_atomically(directory / STATUS_FILE, status)


def remove_status(directory: Path) -> None:
    (directory / STATUS_FILE).unlink(missing_ok=True)


def read_status(directory: Path) -> dict[str, Any] | None:
    """The status a running watcher wrote, or None when no watcher is alive."""
    try:
        data = json.loads((directory / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid = data.get("pid")
    if not isinstance(pid, int) or not pid_alive(pid):
        return None
    status: dict[str, Any] = data
    return status


def status_rows(status: dict[str, Any]) -> list[dict[str, Any]]:
    """The extension rows of a status (a watcher of an earlier version wrote ``plugins``)."""
    rows = status.get("extensions", status.get("plugins", []))
    return [row for row in rows if isinstance(row, dict)] if isinstance(rows, list) else []


def request_reload(directory: Path, name: str) -> str:
    """Ask the watcher of ``directory`` to reload extension ``name``; returns the request token."""
    token = uuid.uuid4().hex
    _write_atomically(directory / REQUESTS_DIR / f"{token}.json", {"reload": name})
    return token


def take_requests(directory: Path) -> list[tuple[str, str]]:
    """Pending reload requests as (token, extension name), removed from the directory."""
    folder = directory / REQUESTS_DIR
    if not folder.is_dir():
        return []
    taken: list[tuple[str, str]] = []
    for path in sorted(folder.glob("*.json")):
        if path.name.startswith(TEMP_PREFIX):
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        finally:
            path.unlink(missing_ok=True)
        if isinstance(data, dict) and isinstance(data.get("reload"), str):
            taken.append((path.stem, data["reload"]))
    return taken

"""The discovered-catalog cache: one file per tap and config, written atomically.

``catalog_cache_file`` names the file with a fingerprint of the tap (resolved executable
path, its size and modification time, so a reinstall invalidates it) and of its config.
The fingerprint is a SHA-256: no setting value, secret or not, appears in a file name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson
import structlog

from flx_meltano.runner import resolve_executable

logger = structlog.get_logger(__name__)

Command = str | Sequence[str]
"""An executable, or an argv prefix such as ``["python", "-m", "tap_x"]``."""


def command_argv(command: Command) -> list[str]:
    argv = [command] if isinstance(command, str) else list(command)
    if not argv or not argv[0]:
        raise ValueError("the tap command is empty")
    return argv


def catalog_fingerprint(
    command: Command, config: Mapping[str, Any], env: Mapping[str, str] | None = None
) -> str:
    argv = command_argv(command)
    executable = resolve_executable("tap", argv[0], env or os.environ)
    stat = Path(executable).stat()
    digest = hashlib.sha256()
    digest.update(orjson.dumps([executable, stat.st_size, stat.st_mtime_ns, argv[1:]]))
    digest.update(orjson.dumps(config, option=orjson.OPT_SORT_KEYS))
    return digest.hexdigest()[:32]


def catalog_cache_file(
    cache_dir: Path, name: str, command: Command, config: Mapping[str, Any]
) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name) or "tap"
    return cache_dir / f"{safe}-{catalog_fingerprint(command, config)}.json"


def is_catalog(document: Any) -> bool:
    streams = document.get("streams") if isinstance(document, dict) else None
    return isinstance(streams, list) and all(isinstance(s, dict) for s in streams)


def read_cache(path: Path) -> dict[str, Any] | None:
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return None
    except (OSError, orjson.JSONDecodeError):
        logger.warning("ignoring an unreadable cached catalog", path=str(path))
        return None
    return document if is_catalog(document) else None


def write_cache(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise

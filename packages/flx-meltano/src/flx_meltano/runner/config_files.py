"""Private files for secrets handed to connectors: config, catalog and state."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import orjson


class PrivateFiles:
    """A directory only the owner can enter (0700) holding files only the owner can read (0600).

    Use as a context manager around a run: the directory and everything in it are removed on
    exit, whether the run succeeded or not.

        with PrivateFiles() as files:
            config = files.write_json("config.json", {"api_key": "..."})
    """

    def __init__(self, *, prefix: str = "flx-run-", base_dir: Path | None = None) -> None:
        self._prefix = prefix
        self._base_dir = base_dir
        self._directory: Path | None = None

    def __enter__(self) -> Self:
        base = Path(self._base_dir or tempfile.gettempdir())
        sweep_orphans(base)
        # The pid in the name lets a later run remove this directory if this process is
        # killed before it can (kill -9 skips every cleanup).
        prefix = f"{self._prefix}pid{os.getpid()}-"
        self._directory = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
        self._directory.chmod(0o700)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
            self._directory = None

    @property
    def directory(self) -> Path:
        if self._directory is None:
            raise RuntimeError("PrivateFiles is used outside its with block")
        return self._directory

    def write_json(self, name: str, data: Any) -> Path:
        """Write ``data`` as JSON to a new file ``name`` (mode 0600) and return its path."""
        return self.write_bytes(name, orjson.dumps(data))

    def write_bytes(self, name: str, data: bytes) -> Path:
        if not name or "/" in name or name in {".", ".."}:
            raise ValueError(f"invalid file name {name!r}")
        path = self.directory / name
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        fd = os.open(path, flags, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        return path


_ORPHAN = re.compile(r"^flx-.*-pid(\d+)-[A-Za-z0-9_]+$")


def sweep_orphans(base: Path) -> list[Path]:
    """Remove the private directories of runs whose process is gone; return what was removed.

    Only directories of this user, named by :class:`PrivateFiles` (``flx-...-pid<N>-...``),
    whose process ``N`` no longer exists. A reused pid keeps its directory: a leftover is the
    safe mistake.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(base))
    except OSError:
        return removed
    for entry in entries:
        match = _ORPHAN.match(entry.name)
        if match is None or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            if entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(Path(entry.path))
        except OSError:
            continue
    return removed

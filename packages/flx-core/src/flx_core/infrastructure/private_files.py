"""Owner-only files and directories: FLX_HOME and its folders (0700), the embedded database,
keys and run logs (0600).

Modes are set when FLX creates a file or a directory. An existing one keeps its mode (an
operator may have opened it to a group on purpose, e.g. for backups), with one exception
that follows ``initdb``: an empty directory that is about to receive the embedded database is
made owner-only, since FLX is initialising it.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

DIR_MODE = 0o700
FILE_MODE = 0o600


def ensure_private_dir(path: Path) -> Path:
    """``path`` and its missing parents, each created 0700; existing ones are left alone."""
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            directory.mkdir(mode=DIR_MODE)
            # mkdir applies the umask; a umask that clears owner bits must not lock us out.
            os.chmod(directory, DIR_MODE)
    return path


def create_private_file(path: Path) -> bool:
    """Create ``path`` empty with mode 0600 unless it exists; True if it was created."""
    ensure_private_dir(path.parent)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def write_private(path: Path, data: bytes) -> None:
    """Write a new file ``path`` (it must not exist) with mode 0600."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def open_private_append(path: Path) -> BinaryIO:
    """``path`` opened for appending, created 0600 (in 0700 directories) if missing."""
    ensure_private_dir(path.parent)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
    return os.fdopen(fd, "ab")


def init_database_dir(database: Path) -> None:
    """Before the embedded database is first created: its directory exists, and is made
    owner-only if FLX creates it or finds it empty; then the file is created 0600."""
    directory = database.parent
    if directory.is_dir() and not database.exists() and not any(directory.iterdir()):
        with contextlib.suppress(PermissionError):
            os.chmod(directory, DIR_MODE)
    ensure_private_dir(directory)
    create_private_file(database)

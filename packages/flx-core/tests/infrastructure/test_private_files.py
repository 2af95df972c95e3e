"""Owner-only directories and files, whatever the umask; existing ones keep their mode."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from flx_core.infrastructure.private_files import (
    create_private_file,
    ensure_private_dir,
    init_database_dir,
    open_private_append,
)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture(autouse=True)
def open_umask() -> Iterator[None]:
    """The usual umask, under which plain mkdir/open give 0755/0644."""
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def test_missing_directories_are_made_owner_only(tmp_path: Path) -> None:
    ensure_private_dir(tmp_path / "home" / "logs" / "p1")
    for path in (tmp_path / "home", tmp_path / "home" / "logs", tmp_path / "home" / "logs" / "p1"):
        assert mode(path) == 0o700
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o750)
    ensure_private_dir(shared)
    assert mode(shared) == 0o750


def test_files_are_made_owner_only(tmp_path: Path) -> None:
    assert create_private_file(tmp_path / "a" / "flx.db")
    assert not create_private_file(tmp_path / "a" / "flx.db")
    assert mode(tmp_path / "a" / "flx.db") == 0o600 and mode(tmp_path / "a") == 0o700
    with open_private_append(tmp_path / "logs" / "run.log") as fh:
        fh.write(b"one\n")
    with open_private_append(tmp_path / "logs" / "run.log") as fh:
        fh.write(b"two\n")
    assert (tmp_path / "logs" / "run.log").read_bytes() == b"one\ntwo\n"
    assert mode(tmp_path / "logs" / "run.log") == 0o600


def test_a_database_initialises_an_empty_directory_only(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir(mode=0o755)
    init_database_dir(empty / "flx.db")
    assert mode(empty) == 0o700 and mode(empty / "flx.db") == 0o600
    used = tmp_path / "used"
    used.mkdir(mode=0o755)
    (used / "notes.txt").write_text("mine")
    init_database_dir(used / "flx.db")
    assert mode(used) == 0o755, "a directory that holds files keeps its mode"
    assert mode(used / "flx.db") == 0o600

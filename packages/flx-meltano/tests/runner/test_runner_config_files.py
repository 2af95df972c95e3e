"""Files handed to connectors are private and do not outlive the run."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import pytest

from flx_meltano.runner import PrivateFiles


def mode(path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_files_are_private_and_removed_after() -> None:
    with PrivateFiles() as files:
        config = files.write_json("config.json", {"password": "s3cret"})
        state = files.write_json("state.json", {"bookmarks": {}})
        directory = files.directory
        assert mode(directory) == 0o700
        assert mode(config) == mode(state) == 0o600
        assert json.loads(config.read_text()) == {"password": "s3cret"}
    assert not directory.exists()


def test_files_are_removed_when_the_run_fails() -> None:
    directories: list[Path] = []

    def failing_run() -> None:
        with PrivateFiles() as files:
            files.write_json("config.json", {})
            directories.append(files.directory)
            raise RuntimeError("run failed")

    with pytest.raises(RuntimeError, match="run failed"):
        failing_run()
    assert not directories[0].exists()


@pytest.mark.parametrize("name", ["", "../escape.json", "a/b.json", ".."])
def test_file_names_stay_inside_the_directory(name: str) -> None:
    with PrivateFiles() as files, pytest.raises(ValueError, match="invalid file name"):
        files.write_json(name, {})


def test_a_file_is_never_overwritten() -> None:
    with PrivateFiles() as files:
        files.write_json("config.json", {})
        with pytest.raises(FileExistsError):
            files.write_json("config.json", {})


def test_a_killed_runs_files_are_removed_by_the_next_run(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    # A process that made its private directory and was killed before it could remove it.
    code = (
        "import os, sys\n"
        "from flx_meltano.runner import PrivateFiles\n"
        "files = PrivateFiles(prefix='flx-p-', base_dir=sys.argv[1]).__enter__()\n"
        "files.write_json('config.json', {'password': 's3cret'})\n"
        "print(files.directory, flush=True)\n"
        "os.kill(os.getpid(), 9)\n"
    )
    killed = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path)], capture_output=True, text=True, check=False
    )
    assert killed.returncode == -9
    orphan = Path(killed.stdout.strip())
    assert (orphan / "config.json").exists()
    # Directories of live processes (this one) and other names are left alone.
    alive = tmp_path / f"flx-q-pid{os.getpid()}-abc123"
    alive.mkdir()
    other = tmp_path / "flx-r-pid-not-a-number"
    other.mkdir()
    with PrivateFiles(prefix="flx-p-", base_dir=tmp_path) as files:
        assert files.directory.name.startswith(f"flx-p-pid{os.getpid()}-")
        assert not orphan.exists()
        assert alive.exists() and other.exists()

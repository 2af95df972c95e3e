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

"""Meltano projects written for the tests (``projects/``), copied to a scratch folder so a
test may change them, a Meltano system database, and an application on a fresh FLX_HOME."""

from __future__ import annotations

import json
import shutil
import sqlite3
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings

PROJECTS = Path(__file__).parent / "projects"
CONNECTORS = Path(__file__).parents[1] / "engine" / "connectors"
#: Meltano's ``state`` table as its migrations create it (SQLite flavour).
MELTANO_STATE_TABLE = """
CREATE TABLE state (
    state_id VARCHAR(900) NOT NULL PRIMARY KEY,
    partial_state TEXT,
    completed_state TEXT,
    updated_at DATETIME
)
"""


def wrapper(directory: Path, name: str, script: str) -> Path:
    """An executable ``name`` that runs the fixture connector ``script``."""
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
    path.chmod(0o755)
    return path


def with_flx_connectors(root: Path) -> Path:
    """A copy of a test project whose executables name ``FLX_BIN`` (FLX's built-in
    connectors): the folder of this Python's console scripts put in their place, so that
    both FLX and Meltano run them."""
    manifest = root / "meltano.yml"
    manifest.write_text(manifest.read_text().replace("FLX_BIN", str(Path(sys.executable).parent)))
    return root


@pytest.fixture
def project(tmp_path: Path) -> Callable[[str], Path]:
    """A copy of the test project ``name``; its directory."""

    def copy(name: str) -> Path:
        target = tmp_path / "meltano" / name
        shutil.copytree(PROJECTS / name, target)
        return target

    return copy


def write_system_db(path: Path, states: dict[str, tuple[Any, Any]]) -> Path:
    """A Meltano system database holding ``states``: state id -> (complete, partial)
    Singer states (None for none), stored as Meltano stores them."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(MELTANO_STATE_TABLE)
        for state_id, (complete, partial) in states.items():
            conn.execute(
                "INSERT INTO state (state_id, partial_state, completed_state, updated_at)"
                " VALUES (?, ?, ?, '2024-05-01 10:00:00')",
                (
                    state_id,
                    json.dumps({"singer_state": partial} if partial else {}),
                    json.dumps({"singer_state": complete} if complete else {}),
                ),
            )
    conn.close()
    return path


@pytest.fixture
async def runtime(flx_home: Path) -> AsyncIterator[Runtime]:
    rt = await bootstrap(load_settings(heartbeat_seconds=0.2))
    yield rt
    await rt.aclose()

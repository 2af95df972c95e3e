"""An application on a fresh FLX_HOME with the fixture tap and target registered."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal

HERE = Path(__file__).parent / "connectors"
SYSTEM = Principal.system()


def wrapper(directory: Path, name: str, script: str) -> Path:
    path = directory / name
    path.write_text(f'#!/bin/sh\nexec {sys.executable} {HERE / script} "$@"\n')
    path.chmod(0o755)
    return path


@pytest.fixture
def connectors(tmp_path: Path) -> dict[str, Path]:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    return {
        "tap": wrapper(bindir, "tap-fixture", "tap_fixture.py"),
        "target": wrapper(bindir, "target-fixture", "target_fixture.py"),
    }


async def add_fixture_connectors(rt: Runtime, connectors: dict[str, Path]) -> None:
    """Register the fixture tap and target as plugins ``tap-fixture``, ``target-fixture``."""
    for kind, name, key in (
        ("extractor", "tap-fixture", "tap"),
        ("loader", "target-fixture", "target"),
    ):
        result = await rt.app.execute(
            AddPlugin(
                plugin_type=kind,
                name=name,
                executable=str(connectors[key]),
                capabilities=["state"] if kind == "extractor" else [],
            ),
            principal=SYSTEM,
        )
        assert result.ok, result.message


@pytest.fixture
async def runtime(flx_home: Path, connectors: dict[str, Path]) -> AsyncIterator[Runtime]:
    rt = await bootstrap(load_settings(heartbeat_seconds=0.2))
    await add_fixture_connectors(rt, connectors)
    yield rt
    await rt.aclose()


@pytest.fixture
def make_pipeline(runtime: Runtime, tmp_path: Path) -> Callable[..., Any]:
    async def make(
        name: str = "p", tap: dict[str, Any] | None = None, target: dict[str, Any] | None = None
    ) -> Path:
        out = tmp_path / f"{name}-out.json"
        result = await runtime.app.execute(
            CreatePipeline(
                name=name,
                extractor="tap-fixture",
                loader="target-fixture",
                config={
                    "tap-fixture": tap or {},
                    "target-fixture": {"path": str(out), **(target or {})},
                },
            ),
            principal=SYSTEM,
        )
        assert result.ok, result.message
        return out

    return make

"""Fixture connectors are small Python scripts run with this interpreter."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from flx_meltano.runner import ProcessSpec

FIXTURES = Path(__file__).parent / "fixtures"

SpecFactory = Callable[..., ProcessSpec]


def _factory(script: str, default_name: str) -> SpecFactory:
    def make(*args: str, name: str = default_name) -> ProcessSpec:
        return ProcessSpec(name, (sys.executable, str(FIXTURES / script), *args))

    return make


@pytest.fixture
def tap() -> SpecFactory:
    return _factory("tap.py", "tap-test")


@pytest.fixture
def target() -> SpecFactory:
    return _factory("target.py", "target-test")


@pytest.fixture
def mapper() -> SpecFactory:
    return _factory("mapper.py", "mapper-test")


def is_gone(pid: int) -> bool:
    """No such process, or only a zombie left for init to collect."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, IndexError):
        return True


@pytest.fixture
def gone() -> Callable[[int], bool]:
    return is_gone


async def wait_for_file(path: Path) -> list[int]:
    """The pids a fixture wrote once it started (pytest-timeout bounds the wait)."""
    while not path.exists():
        await asyncio.sleep(0.02)
    return [int(p) for p in path.read_text().split()]


@pytest.fixture
def pids_in() -> Callable[[Path], object]:
    return wait_for_file

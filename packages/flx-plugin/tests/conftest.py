"""Plugin folders written on the fly for the tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

PLUGIN_CODE = """
from flx_core.application import Command
from flx_core.domain import Permission, ServiceResult

class Ping{tag}(Command):
    permission = Permission.PIPELINE_READ

async def pong(cmd, ctx):
    return ServiceResult.success("{answer}")

class Plugin:
    def activate(self, context):
        context.register_command(Ping{tag}, pong)

plugin = Plugin()
"""


def write_plugin(
    root: Path,
    folder: str,
    *,
    name: str | None = None,
    version: str = "1.0.0",
    requires: list[str] | None = None,
    code: str | None = None,
    flx: str = "",
    extra: str = "",
) -> Path:
    path = root / folder
    (path / "pkg").mkdir(parents=True, exist_ok=True)
    reqs = ", ".join(f'"{r}"' for r in (requires or []))
    (path / "flx-plugin.toml").write_text(
        f'name = "{name or folder}"\nversion = "{version}"\nentry = "pkg:plugin"\n'
        f'requires = [{reqs}]\nflx = "{flx}"\n{extra}'
    )
    (path / "pkg" / "__init__.py").write_text(
        code
        if code is not None
        else "class P:\n    def activate(self, context):\n        pass\nplugin = P()\n"
    )
    return path


@pytest.fixture
def plugin_dir(tmp_path: Path) -> Path:
    root = tmp_path / "plugins.d"
    root.mkdir()
    return root


@pytest.fixture
def make_plugin(plugin_dir: Path) -> Callable[..., Path]:
    def make(folder: str, **kw: object) -> Path:
        return write_plugin(plugin_dir, folder, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
def plugin_code() -> str:
    """A plugin registering command Ping{tag} answering {answer} (fill with .format)."""
    return PLUGIN_CODE

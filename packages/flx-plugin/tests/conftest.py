"""Extension folders written on the fly, a real application to activate them on, and polling."""

from __future__ import annotations

import asyncio
import inspect
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import Application, core_module
from flx_core.testing import InMemoryWorld
from flx_plugin import ExtensionConfig, ExtensionManager

EXTENSION_CODE = """
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

IDLE_CODE = "class P:\n    def activate(self, context):\n        pass\n\nplugin = P()\n"


def write_extension(
    root: Path,
    folder: str,
    *,
    name: str | None = None,
    version: str = "1.0.0",
    requires: list[str] | None = None,
    code: str | None = None,
    flx: str = "",
) -> Path:
    path = root / folder
    (path / "pkg").mkdir(parents=True, exist_ok=True)
    (path / "pkg" / "__init__.py").write_text(IDLE_CODE if code is None else code)
    reqs = ", ".join(f'"{r}"' for r in (requires or []))
    (path / "flx-extension.toml").write_text(
        f'name = "{name or folder}"\nversion = "{version}"\nentry = "pkg:plugin"\n'
        f'requires = [{reqs}]\nflx = "{flx}"\n'
    )
    return path


@pytest.fixture
def extension_dir(tmp_path: Path) -> Path:
    root = tmp_path / "extensions.d"
    root.mkdir()
    return root.resolve()


@pytest.fixture
def make_extension(extension_dir: Path) -> Callable[..., Path]:
    def make(folder: str, **kw: object) -> Path:
        return write_extension(extension_dir, folder, **kw)  # type: ignore[arg-type]

    return make


@pytest.fixture
def extension_code() -> str:
    """A plugin registering command Ping{tag} answering {answer} (fill with .format)."""
    return EXTENSION_CODE


@pytest.fixture
def app() -> Application:
    application = Application(InMemoryWorld().uow)
    application.include([core_module])
    return application


@pytest.fixture
def manager_for(extension_dir: Path) -> Iterator[Callable[..., ExtensionManager]]:
    """Managers over the extension directory (no entry points), stopped at the end."""
    made: list[ExtensionManager] = []

    def make(app: Application | None = None, **kw: object) -> ExtensionManager:
        config = ExtensionConfig(
            watch_dir=extension_dir,
            flx_version="0.1.0",
            path=extension_dir.parent / "extensions.toml",
        )
        manager = ExtensionManager(config, app, entry_points=False, **kw)  # type: ignore[arg-type]
        made.append(manager)
        return manager

    yield make
    for manager in made:
        manager.stop()


async def until(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> None:
    """Poll ``predicate`` (sync or async) until it holds; fail naming ``what`` after
    ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = predicate()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def wait_for() -> Callable[..., Awaitable[None]]:
    return until


def _module_of(manager: ExtensionManager, name: str, module: str = "pkg") -> Any:
    loaded = manager.records[name].loaded
    assert loaded is not None and loaded.namespace is not None
    return sys.modules[f"{loaded.namespace}.{module}"]


@pytest.fixture
def module_of() -> Callable[..., Any]:
    """The imported module of a running folder extension: module_of(manager, name)."""
    return _module_of


@pytest.fixture
def install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[..., Path]]:
    """Install a distribution the way an installer lays it out: its code and a ``.dist-info``
    folder with ``entry_points.txt`` in a directory on ``sys.path``. The imported modules are
    forgotten afterwards."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    packages: list[str] = []

    def install_(
        dist: str,
        version: str,
        entry_points: dict[str, str],
        files: dict[str, str] | None = None,
        copy: Path | None = None,
        groups: tuple[str, ...] = ("flx.extensions",),
    ) -> Path:
        import shutil

        if copy is not None:
            shutil.copytree(copy, site / copy.name)
            packages.append(copy.name)
        for relative, text in (files or {}).items():
            path = site / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            packages.append(Path(relative).parts[0].removesuffix(".py"))
        info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {value}\n" for name, value in entry_points.items())
        (info / "entry_points.txt").write_text("".join(f"[{g}]\n{lines}" for g in groups))
        return site

    yield install_
    for package in packages:
        for key in [k for k in sys.modules if k == package or k.startswith(package + ".")]:
            del sys.modules[key]

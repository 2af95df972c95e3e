"""Hot reload driven by real file changes, and the status file other processes read."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from flx_core.domain import Principal
from flx_plugin import ExtensionManager, ExtensionState, read_status, request_reload
from flx_plugin.watcher import is_relevant

SYSTEM = Principal.system()


@pytest.fixture
async def watching(
    app, manager_for, extension_dir: Path, wait_for
) -> AsyncIterator[Callable[[], ExtensionManager]]:
    """A started manager watching the extension directory, ready to see changes."""
    manager = manager_for(app)
    await manager.start()
    stop = asyncio.Event()
    task = asyncio.create_task(manager.watch(stop, debounce_ms=300, step_ms=50))
    probe = extension_dir / "probe.txt"

    def poke() -> bool:
        probe.write_text(str(os.urandom(4)))
        return manager.batches > 0

    await wait_for(poke, "the watcher to start")
    probe.unlink()
    yield lambda: manager
    stop.set()
    await asyncio.wait_for(task, 30)


def row(manager: ExtensionManager, name: str) -> dict:
    status = read_status(manager.config.watch_dir)
    assert status is not None and status["pid"] == os.getpid()
    return next(r for r in status["extensions"] if r["name"] == name)


async def test_add_edit_break_and_remove_a_folder(
    app, watching, make_extension, extension_code, module_of, wait_for
) -> None:
    manager = watching()

    async def answer() -> object:
        mod = module_of(manager, "live")
        return (await app.execute(mod.PingW(), principal=SYSTEM)).value

    folder = make_extension("live", code=extension_code.format(tag="W", answer="a"))
    await wait_for(
        lambda: "live" in manager.records and manager.records["live"].active, "added folder"
    )
    assert row(manager, "live")["state"] == "active"

    before = len(manager.events)
    for i in range(5):  # a burst of saves
        (folder / "pkg" / "__init__.py").write_text(extension_code.format(tag="W", answer=f"b{i}"))

    async def last_edit_active() -> bool:
        return await answer() == "b4"

    await wait_for(last_edit_active, "the last edit to be active")
    reloads = sum("reloaded live" in e for e in manager.events[before:])
    assert 1 <= reloads < 5, manager.events[before:]

    (folder / "pkg" / "__init__.py").write_text("def broken(:\n")
    await wait_for(lambda: "SyntaxError" in (manager.records["live"].reason or ""), "broken edit")
    assert manager.records["live"].state is ExtensionState.ACTIVE
    assert await answer() == "b4"
    await wait_for(lambda: "stays active" in (row(manager, "live")["reason"] or ""), "status")

    shutil.rmtree(folder)
    await wait_for(lambda: "live" not in manager.records, "removed folder")
    await wait_for(
        lambda: all(
            r["name"] != "live" for r in read_status(manager.config.watch_dir)["extensions"]
        ),
        "status without the removed extension",
    )


async def test_reload_requests_from_other_processes_are_answered(
    watching, make_extension, extension_dir: Path, wait_for
) -> None:
    manager = watching()
    make_extension("asked")
    await wait_for(lambda: "asked" in manager.records, "added folder")
    first = manager.records["asked"].activated_at
    token = request_reload(extension_dir, "asked")
    await wait_for(
        lambda: token in (read_status(extension_dir) or {}).get("requests", {}), "an answer"
    )
    answer = read_status(extension_dir)["requests"][token]
    assert answer == {
        "name": "asked",
        "ok": True,
        "state": "active",
        "version": "1.0.0",
        "reason": None,
    }
    assert manager.records["asked"].activated_at > first
    assert not list((extension_dir / ".requests").glob("*.json"))


async def test_extensions_toml_is_followed(
    watching, make_extension, extension_dir: Path, wait_for
) -> None:
    manager = watching()
    make_extension("quiet")
    await wait_for(lambda: "quiet" in manager.records, "added folder")
    (extension_dir.parent / "extensions.toml").write_text("[extensions.quiet]\nenabled = false\n")
    await wait_for(
        lambda: manager.records["quiet"].state is ExtensionState.INACTIVE,
        "disabled by extensions.toml",
    )


async def test_the_status_file_goes_with_the_watcher(
    app, manager_for, extension_dir, wait_for
) -> None:
    manager = manager_for(app)
    await manager.start()
    stop = asyncio.Event()
    task = asyncio.create_task(manager.watch(stop, debounce_ms=300, step_ms=50))
    await wait_for(lambda: read_status(extension_dir) is not None, "the status file")
    status = read_status(extension_dir)
    assert status["extensions"] == [] and status["watch_dir"] == str(extension_dir)
    stop.set()
    await asyncio.wait_for(task, 30)
    assert not (extension_dir / ".status.json").exists()
    assert read_status(extension_dir) is None


def test_noise_is_ignored() -> None:
    from watchfiles import Change

    for path in ("/p/x/__pycache__/m.cpython-311.pyc", "/p/.status.json", "/p/.tmp-1.json"):
        assert not is_relevant(Change.modified, path)
    assert is_relevant(Change.modified, "/p/x/pkg/__init__.py")
    assert is_relevant(Change.added, "/p/.requests/abc.json")

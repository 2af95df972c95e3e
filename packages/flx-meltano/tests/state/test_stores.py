"""Both state stores keep every committed state as a version."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flx_core.domain import NotFound
from flx_core.domain.ports import StateStorePort
from flx_core.infrastructure.persistence import make_engine, make_session_factory
from flx_meltano.state import DatabaseStateStore, FileStateStore, merge_states


@pytest.fixture(params=["files", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStorePort]:
    if request.param == "files":
        yield FileStateStore(tmp_path / "state", retention=3)
        return
    url: str = request.getfixturevalue(f"{request.param.replace('postgresql', 'postgres')}_url")
    engine = make_engine(url)
    yield DatabaseStateStore(make_session_factory(engine), retention=3)
    await engine.dispose()


async def test_versions_history_restore_and_clear(store: StateStorePort) -> None:
    assert await store.get("demo") is None
    v1 = await store.set("demo", {"bookmarks": {"users": {"v": 1}}}, execution_id="e1")
    v2 = await store.set("demo", {"bookmarks": {"users": {"v": 2}}}, partial=True)
    assert (v1.version, v2.version) == (1, 2)
    current = await store.get("demo")
    assert current is not None and current.value["bookmarks"]["users"]["v"] == 2
    assert current.partial
    history = await store.history("demo")
    assert [h.version for h in history] == [2, 1]
    assert history[1].execution_id == "e1"
    restored = await store.restore("demo", 1)
    assert restored.version == 3 and restored.value == v1.value
    assert "restored from version 1" in restored.note
    await store.clear("demo")
    cleared = await store.get("demo")
    assert cleared is not None and cleared.value == {} and cleared.note == "cleared"
    assert await store.list_ids() == ["demo"]


async def test_retention_keeps_the_newest_versions(store: StateStorePort) -> None:
    for i in range(6):
        await store.set("s", {"i": i})
    assert [h.version for h in await store.history("s")] == [6, 5, 4]


async def test_unknown_versions_and_ids_are_not_found(store: StateStorePort) -> None:
    with pytest.raises(NotFound, match="no state stored for 'ghost'"):
        await store.clear("ghost")
    await store.set("s", {"a": 1})
    with pytest.raises(NotFound, match="has no version 9"):
        await store.restore("s", 9)


def test_merge_keeps_streams_the_update_does_not_mention() -> None:
    base = {"bookmarks": {"users": {"v": 1}, "orders": {"v": 5}}, "currently_syncing": None}
    update = {"bookmarks": {"users": {"v": 2}}, "currently_syncing": "users"}
    assert merge_states(base, update) == {
        "bookmarks": {"users": {"v": 2}, "orders": {"v": 5}},
        "currently_syncing": "users",
    }
    assert base["bookmarks"]["users"] == {"v": 1}

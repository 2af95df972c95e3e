"""Migration 0005_core: pipelines stored before it get no extractor extras, and going back
drops them again."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, inspect, text

from flx_core.infrastructure.persistence import (
    SqlUnitOfWork,
    downgrade,
    make_engine,
    make_session_factory,
    upgrade,
)
from flx_core.infrastructure.persistence.engine import sync_url
from flx_core.infrastructure.persistence.migrate import CORE_MIGRATIONS
from flx_core.infrastructure.secret_cipher import EnvironmentKeys, SecretCipher, new_key

EXTRAS = {"schema_overrides", "catalog_path", "state_path", "load_schema", "select_filter"}


def _columns(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return {c["name"] for c in inspect(engine).get_columns("pipelines")}
    finally:
        engine.dispose()


async def test_older_pipelines_get_no_extras_and_a_downgrade_drops_them(
    tmp_path: Path, flx_home: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'flx.db'}"
    upgrade(url, "0004_core", sets=[CORE_MIGRATIONS])
    assert not EXTRAS & _columns(url)
    engine = create_engine(sync_url(url))
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO pipelines (id, name, description, extractor, mappers, loader,"
                " config, select_rules, stream_metadata, enabled, tags, state_id, version,"
                " created_at, updated_at) VALUES ('l-1', 'p1', '', 'tap-x', '[]', 'target-y',"
                " '{}', '[]', '{}', 1, '[]', 'p1', 1, '2026-01-01 00:00:00', "
                "'2026-01-01 00:00:00')"
            )
        )
    engine.dispose()
    upgrade(url, sets=[CORE_MIGRATIONS])
    assert _columns(url) >= EXTRAS
    async_engine = make_engine(url)
    try:
        cipher = SecretCipher(EnvironmentKeys(new_key().decode()))
        async with SqlUnitOfWork(make_session_factory(async_engine), cipher=cipher) as uow:
            pipeline = await uow.pipelines.get_by_name("p1")
    finally:
        await async_engine.dispose()
    assert pipeline is not None
    assert (pipeline.schema_overrides, pipeline.select_filter) == ({}, [])
    assert (pipeline.catalog_path, pipeline.state_path, pipeline.load_schema) == (None,) * 3
    downgrade(url, "0004_core")
    assert not EXTRAS & _columns(url)

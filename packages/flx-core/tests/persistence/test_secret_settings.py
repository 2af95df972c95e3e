"""Secret settings encrypted at rest by the SQL repositories, on SQLite and on PostgreSQL:
nothing secret in the stored bytes or rows, the same values read back, one clear error for
a wrong key, re-encryption under a new key, and the migration that encrypts older rows."""

from __future__ import annotations

import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.ext.asyncio import async_sessionmaker

from flx_core.domain import Pipeline, Plugin, PluginType, SecretUnreadable
from flx_core.infrastructure.persistence import (
    SqlUnitOfWork,
    make_engine,
    make_session_factory,
    reseal_secrets,
    stored_secrets,
    upgrade,
)
from flx_core.infrastructure.persistence.engine import sync_url
from flx_core.infrastructure.persistence.migrate import CORE_MIGRATIONS
from flx_core.infrastructure.secret_cipher import (
    CLEAR,
    PREFIX,
    EnvironmentKeys,
    FileKeys,
    SecretCipher,
    key_id,
    new_key,
)

#: Every value here is a secret: by declaration, by name, or inside a connection string.
SECRETS = (
    "declared-plugin-s1",
    "hunter2-pw-s2",
    "passwd-s3",
    "libpq-s4",
    "url-pw-s5",
    "nested-pk-s6",
    "declared-pipeline-s7",
    "pipeline-pw-s8",
    "loader-key-s9",
    "audit-declared-s10",
)
PLUGIN_CONFIG: dict[str, Any] = {
    "dsn_key": "declared-plugin-s1",
    "password": "hunter2-pw-s2",
    "passwd": "passwd-s3",
    "dsn": "host=db port=5432 password=libpq-s4",
    "sqlalchemy_url": "postgresql://app:url-pw-s5@db/sales",
    "credentials": {"type": "service_account", "private_key": "nested-pk-s6"},
    "api_token": 918273645,
    "host": "db.example.com",
    "port": 5432,
}
PIPELINE_CONFIG: dict[str, dict[str, Any]] = {
    "tap-x": {
        "dsn_key": "declared-pipeline-s7",
        "pwd": "pipeline-pw-s8",
        "start_date": "2024-01-01",
    },
    "target-y": {"api_key": "loader-key-s9", "path": "/tmp/out"},
}


def env_cipher(*keys: bytes) -> SecretCipher:
    return SecretCipher(EnvironmentKeys(",".join(k.decode() for k in keys)))


@pytest.fixture
async def factory(database_url: str) -> AsyncIterator[async_sessionmaker[Any]]:
    engine = make_engine(database_url)
    yield make_session_factory(engine)
    await engine.dispose()


async def store_everything(factory: async_sessionmaker[Any], cipher: SecretCipher) -> None:
    """A plugin and a pipeline with secrets of every kind, and a recorded config change."""
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        await uow.plugins.add(
            Plugin(
                plugin_type=PluginType.EXTRACTOR,
                name="tap-x",
                settings=[{"name": "dsn_key", "kind": "secret"}],
                config=PLUGIN_CONFIG,
            )
        )
        await uow.plugins.add(Plugin(plugin_type=PluginType.LOADER, name="target-y"))
        pipeline = Pipeline.create(
            name="p1", extractor="tap-x", loader="target-y", config=PIPELINE_CONFIG
        )
        await uow.pipelines.add(pipeline)
        await uow.commit()
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        found = await uow.pipelines.get_by_name("p1")
        assert found is not None
        uow.track(found)
        found.update(config={**PIPELINE_CONFIG, "tap-x": {"dsn_key": "audit-declared-s10"}})
        await uow.pipelines.save(found)
        await uow.commit()


def raw_rows(url: str, tables: tuple[str, ...] = ("plugins", "pipelines", "events")) -> str:
    """Every row of the tables that hold settings or their history, as the database has it."""
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as conn:
            # A tuple, not the Row: the Row's repr cuts long values short.
            rows = [
                repr(tuple(row))
                for table in tables
                for row in conn.execute(text(f"SELECT * FROM {table}"))
            ]
    finally:
        engine.dispose()
    return "\n".join(rows)


async def test_round_trip_gives_the_plain_values(factory) -> None:
    cipher = env_cipher(new_key())
    await store_everything(factory, cipher)
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        plugin = await uow.plugins.get_by_name("tap-x")
        pipeline = await uow.pipelines.get_by_name("p1")
        listed = await uow.plugins.list()
    assert plugin is not None and pipeline is not None
    assert plugin.config == PLUGIN_CONFIG
    assert next(p for p in listed if p.name == "tap-x").config == PLUGIN_CONFIG
    assert pipeline.config == {**PIPELINE_CONFIG, "tap-x": {"dsn_key": "audit-declared-s10"}}


async def test_no_secret_in_the_stored_rows(database_url: str, factory) -> None:
    """On both backends, what the database holds: markers, never a configured secret."""
    cipher = env_cipher(new_key())
    await store_everything(factory, cipher)
    rows = raw_rows(database_url)
    leaked = [s for s in SECRETS if s in rows]
    assert leaked == []
    assert "918273645" not in rows, "a secret number is encrypted too"
    assert rows.count(PREFIX) == 9
    assert "db.example.com" in rows and "/tmp/out" in rows, "other settings stay readable"


async def test_no_secret_in_the_sqlite_file(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'flx.db'}"
    upgrade(url)
    engine = make_engine(url)
    try:
        await store_everything(make_session_factory(engine), env_cipher(new_key()))
    finally:
        await engine.dispose()  # checkpoints the write-ahead log into the file
    data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("flx.db"))
    assert [s for s in SECRETS if s.encode() in data] == []
    assert b"db.example.com" in data


async def test_a_wrong_key_names_the_plugin_and_the_setting(factory) -> None:
    right = new_key()
    await store_everything(factory, env_cipher(right))
    wrong = env_cipher(new_key())
    async with SqlUnitOfWork(factory, cipher=wrong) as uow:
        with pytest.raises(SecretUnreadable) as info:
            await uow.plugins.get_by_name("tap-x")
        message = str(info.value)
        assert message.startswith("cannot decrypt setting '")
        assert "of plugin 'tap-x'" in message
        assert "FLX_SECRET_KEY does not match the key it was encrypted with" in message
        assert key_id(right) in message and "\n" not in message
        assert info.value.details["setting"] in PLUGIN_CONFIG
        with pytest.raises(SecretUnreadable, match="of plugin 'tap-x' in pipeline 'p1'"):
            await uow.pipelines.get_by_name("p1")


async def test_no_key_file_says_so(factory, tmp_path: Path) -> None:
    await store_everything(factory, env_cipher(new_key()))
    keyless = SecretCipher(FileKeys(tmp_path / "keys"))
    async with SqlUnitOfWork(factory, cipher=keyless) as uow:
        with pytest.raises(SecretUnreadable, match=r"no key to decrypt it \(FLX_SECRET_KEY is"):
            await uow.plugins.get_by_name("tap-x")
    assert not (tmp_path / "keys").exists(), "reading never makes a key"


async def test_a_late_declaration_encrypts_the_pipeline_values(database_url, factory) -> None:
    cipher = env_cipher(new_key())
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        await uow.plugins.add(Plugin(plugin_type=PluginType.EXTRACTOR, name="tap-x"))
        await uow.pipelines.add(
            Pipeline(name="p1", extractor="tap-x", loader="t", config={"tap-x": {"dsn": "late-s"}})
        )
        await uow.commit()
    assert "late-s" in raw_rows(database_url), "not secret yet: stored as it is"
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        plugin = await uow.plugins.get_by_name("tap-x")
        assert plugin is not None
        plugin.update(settings=[{"name": "dsn", "kind": "secret"}])
        await uow.plugins.save(plugin)
        await uow.commit()
    assert "late-s" not in raw_rows(database_url)
    async with SqlUnitOfWork(factory, cipher=cipher) as uow:
        pipeline = await uow.pipelines.get_by_name("p1")
    assert pipeline is not None and pipeline.config == {"tap-x": {"dsn": "late-s"}}


async def test_rotation_reencrypts_and_the_old_key_can_then_go(factory) -> None:
    old, new = new_key(), new_key()
    await store_everything(factory, env_cipher(old))
    rotated = env_cipher(new, old)
    async with factory() as session, session.begin():
        assert set(await stored_secrets(session)) == {key_id(old)}
        changed = await reseal_secrets(session, rotated)
        assert changed == {"plugins": 1, "pipelines": 1}
    async with factory() as session, session.begin():
        assert set(await stored_secrets(session)) == {key_id(new)}
        assert await reseal_secrets(session, rotated) == {"plugins": 0, "pipelines": 0}
    # Only the new key now: everything still reads back.
    async with SqlUnitOfWork(factory, cipher=env_cipher(new)) as uow:
        plugin = await uow.plugins.get_by_name("tap-x")
        assert plugin is not None and plugin.config == PLUGIN_CONFIG
        assert await uow.pipelines.get_by_name("p1") is not None
    # And the old key alone no longer does.
    async with SqlUnitOfWork(factory, cipher=env_cipher(old)) as uow:
        with pytest.raises(SecretUnreadable, match=key_id(new)):
            await uow.plugins.get_by_name("tap-x")


# -- the migration ----------------------------------------------------------------------
def _write_clear_rows(url: str) -> None:
    """Rows as FLX stored them before encryption (revision 0002_core)."""
    import json

    engine = create_engine(sync_url(url))
    now = "2026-01-01 00:00:00+00:00"
    plugin_settings = json.dumps([{"name": "dsn_key", "kind": "secret"}])
    try:
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO plugins (id, name, plugin_type, namespace, executable, settings,"
                    " config, capabilities, version, created_at, updated_at) VALUES ('p-1',"
                    " 'tap-x', 'extractor', 'tap_x', 'tap-x', :settings, :config, '[]', 1,"
                    " :now, :now)"
                ),
                {"settings": plugin_settings, "config": json.dumps(PLUGIN_CONFIG), "now": now},
            )
            conn.execute(
                text(
                    "INSERT INTO pipelines (id, name, description, extractor, mappers, loader,"
                    " config, select_rules, stream_metadata, enabled, tags, state_id, version,"
                    " created_at, updated_at) VALUES ('l-1', 'p1', '', 'tap-x', '[]',"
                    " 'target-y', :config, '[]', '{}', true, '[]', 'p1', 1, :now, :now)"
                ),
                {"config": json.dumps(PIPELINE_CONFIG), "now": now},
            )
            changes = {"changes": {"config": {"tap-x": {"dsn_key": "audit-declared-s10"}}}}
            conn.execute(
                text(
                    "INSERT INTO events (event_id, event_type, aggregate_id, actor, occurred_at,"
                    " payload) VALUES ('e-1', 'PipelineUpdated', 'l-1', 'me', :now, :payload)"
                ),
                {"payload": json.dumps({"name": "p1", **changes}), "now": now},
            )
    finally:
        engine.dispose()


@pytest.fixture
def database_at_0002(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'flx.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
        from flx_core.infrastructure.persistence import downgrade

        downgrade(url, "0002_core")
    upgrade(url, "0002_core", sets=[CORE_MIGRATIONS])
    return url


@pytest.mark.parametrize(
    "database_at_0002",
    ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)],
    indirect=True,
)
async def test_the_migration_encrypts_rows_stored_in_clear(
    database_at_0002: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, flx_home: Path
) -> None:
    url = database_at_0002
    _write_clear_rows(url)
    assert "hunter2-pw-s2" in raw_rows(url)
    key = new_key()
    monkeypatch.setenv("FLX_SECRET_KEY", key.decode())
    from flx_core.config import load_settings

    upgrade(url, settings=load_settings())
    rows = raw_rows(url)
    assert [s for s in SECRETS if s in rows] == []
    if url.startswith("sqlite"):
        data = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("flx.db"))
        assert [s for s in SECRETS if s.encode() in data] == [], "no copy left in free pages"
    engine = make_engine(url)
    try:
        factory = make_session_factory(engine)
        async with factory() as session:
            assert set(await stored_secrets(session)) == {key_id(key)}
            assert CLEAR not in await stored_secrets(session)
        async with SqlUnitOfWork(factory, cipher=env_cipher(key)) as uow:
            plugin = await uow.plugins.get_by_name("tap-x")
            pipeline = await uow.pipelines.get_by_name("p1")
    finally:
        await engine.dispose()
    assert plugin is not None and plugin.config == PLUGIN_CONFIG
    assert pipeline is not None and pipeline.config == PIPELINE_CONFIG
    # Downgrading decrypts: the previous revision reads its rows as it wrote them.
    from flx_core.infrastructure.persistence import downgrade

    downgrade(url, "0002_core", settings=load_settings())
    settings_rows = raw_rows(url, ("plugins", "pipelines"))
    assert "hunter2-pw-s2" in settings_rows and PREFIX not in settings_rows


def test_a_fresh_database_needs_no_key(tmp_path: Path, flx_home: Path) -> None:
    """Nothing to encrypt: the migration never asks for a key, so none is made."""
    upgrade(f"sqlite:///{tmp_path / 'fresh.db'}")
    assert not (flx_home / "keys").exists()


def test_the_database_file_is_owner_only(tmp_path: Path) -> None:
    home = tmp_path / "home"
    upgrade(f"sqlite:///{home / 'flx.db'}")
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "flx.db").stat().st_mode) == 0o600

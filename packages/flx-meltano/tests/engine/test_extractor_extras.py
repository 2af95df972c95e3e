"""Meltano's extractor extras on real runs of the built-in sample tap: schema overrides reach
the target, a catalog file replaces discovery, select filters drop streams, a state file is
where every run starts, and the load schema reaches the loader's settings."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import CreatePipeline, GetPipeline, UpdatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import ExecutionStatus, PipelineExecution, Principal
from flx_meltano import GetState, RegisterBuiltinPlugins, RunPipeline
from flx_meltano.catalog import run_catalog
from flx_meltano.connectors.sample_data import timestamp
from flx_meltano.connectors.tap_sample import discover
from flx_meltano.engine.paths import catalog_dir
from flx_meltano.engine.pipeline_run import load_run_plugins
from flx_meltano.engine.plan import planned_run

SYSTEM = Principal.system()
TAP = "tap-flx-sample"
START = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def runtime(flx_home: Path) -> AsyncIterator[Runtime]:
    rt = await bootstrap(load_settings(heartbeat_seconds=0.2))
    assert (await rt.app.execute(RegisterBuiltinPlugins(), principal=SYSTEM)).ok
    yield rt
    await rt.aclose()


async def ok(runtime: Runtime, message: Any) -> Any:
    result = await runtime.app.execute(message, principal=SYSTEM)
    assert result.ok, result.message
    return result.value


async def create(
    runtime: Runtime, name: str, loader: str, loader_config: dict[str, Any], **fields: Any
) -> None:
    await ok(
        runtime,
        CreatePipeline(
            name=name,
            extractor=TAP,
            loader=loader,
            config={TAP: {"rows": 10}, loader: loader_config},
            **fields,
        ),
    )


async def run(runtime: Runtime, name: str, **kw: Any) -> PipelineExecution:
    requested = await ok(runtime, RunPipeline(pipeline=name, **kw))
    assert runtime.executor is not None
    done = await runtime.executor.wait(requested.id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    return done


def column_types(database: Path, table: str) -> dict[str, str]:
    with sqlite3.connect(database) as conn:
        rows = conn.execute(f'PRAGMA table_info("{table}")').fetchall()
    return {row[1]: row[2] for row in rows}


async def test_a_schema_override_changes_the_type_the_target_sees(
    runtime: Runtime, tmp_path: Path
) -> None:
    plain, shaped = tmp_path / "plain.db", tmp_path / "shaped.db"
    await create(runtime, "plain", "target-flx-sqlite", {"database": str(plain)})
    await create(
        runtime,
        "shaped",
        "target-flx-sqlite",
        {"database": str(shaped)},
        schema_overrides={"users": {"score": {"type": ["string", "null"]}}},
    )
    await run(runtime, "plain")
    await run(runtime, "shaped")
    assert column_types(plain, "users")["score"] == "REAL"
    assert column_types(shaped, "users")["score"] == "TEXT"
    assert column_types(shaped, "orders") == column_types(plain, "orders")
    with sqlite3.connect(shaped) as conn:
        assert {t for (t,) in conn.execute("SELECT typeof(score) FROM users")} == {"text"}


async def test_a_catalog_file_replaces_discovery_and_is_used_as_it_is(
    runtime: Runtime, tmp_path: Path, flx_home: Path
) -> None:
    catalog = tmp_path / "tap.catalog.json"
    catalog.write_text(json.dumps(run_catalog(discover(), select=["orders.*", "events.*"])))
    await create(
        runtime,
        "fixed",
        "target-flx-jsonl",
        {"destination_path": str(tmp_path / "out")},
        catalog_path=str(catalog),
        select=["users.*"],
        select_filter=["!events"],
    )
    done = await run(runtime, "fixed")
    # The file's selection, less what the filter drops; the pipeline's select is not applied.
    assert done.stream_counts == {"orders": 10}
    assert any("used as it is: its select rules are not applied" in w for w in done.warnings)
    assert not list(catalog_dir(flx_home).glob(f"{TAP}-*.json")), "no discovery was cached"
    assert "--discover" not in Path(str(done.log_path)).read_text()


async def test_a_missing_catalog_file_fails_the_run_with_its_path(
    runtime: Runtime, tmp_path: Path
) -> None:
    missing = tmp_path / "gone.json"
    await create(
        runtime,
        "fixed",
        "target-flx-jsonl",
        {"destination_path": str(tmp_path / "out")},
        catalog_path=str(missing),
    )
    requested = await ok(runtime, RunPipeline(pipeline="fixed"))
    assert runtime.executor is not None
    done = await runtime.executor.wait(requested.id)
    assert done.status is ExecutionStatus.FAILED
    assert f"catalog file {missing} does not exist" in (done.error or "")


async def test_a_select_filter_drops_the_streams_it_leaves_out(
    runtime: Runtime, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    await create(
        runtime,
        "filtered",
        "target-flx-jsonl",
        {"destination_path": str(out)},
        select_filter=["*", "!events"],
    )
    done = await run(runtime, "filtered")
    assert done.stream_counts == {"users": 10, "orders": 10}
    assert sorted(p.name for p in out.iterdir()) == ["orders.jsonl", "users.jsonl"]
    await ok(runtime, UpdatePipeline(pipeline="filtered", changes={"select_filter": ["users"]}))
    assert (await run(runtime, "filtered", full_refresh=True)).stream_counts == {"users": 10}


async def test_every_run_starts_from_the_state_file_as_in_meltano(
    runtime: Runtime, tmp_path: Path
) -> None:
    bookmark = {"replication_key": "updated_at", "replication_key_value": timestamp(START, 5)}
    state_file = tmp_path / "tap.state.json"
    state_file.write_text(json.dumps({"bookmarks": {"users": bookmark}}))
    await create(
        runtime,
        "resumed",
        "target-flx-jsonl",
        {"destination_path": str(tmp_path / "out")},
        state_path=str(state_file),
    )
    first = await run(runtime, "resumed")
    # Rows 6..9 of users are after the file's bookmark; the others start from nothing.
    assert first.stream_counts == {"users": 4, "orders": 10, "events": 10}
    assert first.warnings == []
    stored = await ok(runtime, GetState(state_id="resumed"))
    assert stored.value["bookmarks"]["users"]["replication_key_value"] == timestamp(START, 9)
    # The stored state moved on, yet the next run starts from the file again (Meltano's way).
    second = await run(runtime, "resumed")
    assert second.stream_counts == first.stream_counts
    assert any("starts from the state file" in w for w in second.warnings)
    assert (await run(runtime, "resumed", full_refresh=True)).stream_counts["users"] == 10
    # Without the file, the run goes on from the stored state: nothing new.
    await ok(runtime, UpdatePipeline(pipeline="resumed", changes={"state_path": None}))
    assert (await run(runtime, "resumed")).stream_counts == {}


async def test_the_load_schema_reaches_the_loader_s_settings(
    runtime: Runtime, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    where = str(out / "${MELTANO_EXTRACT__LOAD_SCHEMA}")
    await create(
        runtime, "named", "target-flx-jsonl", {"destination_path": where}, load_schema="raw_sample"
    )
    await create(runtime, "default", "target-flx-jsonl", {"destination_path": where})
    await run(runtime, "named")
    await run(runtime, "default")
    # Unset, it is the extractor's namespace, as in Meltano.
    assert sorted(p.name for p in out.iterdir()) == ["raw_sample", "tap_flx_sample"]
    assert (out / "raw_sample" / "users.jsonl").read_text().count("\n") == 10


async def test_the_loader_gets_the_load_schema_in_its_config_and_environment(
    runtime: Runtime, tmp_path: Path
) -> None:
    await create(
        runtime,
        "p",
        "target-flx-jsonl",
        {"destination_path": "$MELTANO_EXTRACT__LOAD_SCHEMA", "do_timestamp_file": False},
        load_schema="raw",
    )
    pipeline = await ok(runtime, GetPipeline(pipeline="p"))
    async with runtime.app.uow_factory() as uow:
        plugins = await load_run_plugins(uow, pipeline)
    warnings: list[str] = []

    async def ignore(*_: Any) -> None:
        return None

    async with planned_run(
        pipeline,
        plugins,
        runtime.settings,
        {},
        state=None,
        log_path=None,
        timeout=None,
        on_state=ignore,
        on_progress=lambda _: None,
        warn=warnings.append,
    ) as spec:
        argv = list(spec.target.argv)
        config = json.loads(Path(argv[argv.index("--config") + 1]).read_text())
        assert config["destination_path"] == "raw"
        assert spec.target.env == {"MELTANO_EXTRACT__LOAD_SCHEMA": "raw"}
        assert "MELTANO_EXTRACT__LOAD_SCHEMA" not in spec.tap.env
    assert warnings == []
    # A load schema no setting refers to reaches the loader only as the variable: said so.
    await ok(
        runtime,
        UpdatePipeline(
            pipeline="p", changes={"config": {"target-flx-jsonl": {"destination_path": "out"}}}
        ),
    )
    pipeline = await ok(runtime, GetPipeline(pipeline="p"))
    async with planned_run(
        pipeline,
        plugins,
        runtime.settings,
        {},
        state=None,
        log_path=None,
        timeout=None,
        on_state=ignore,
        on_progress=lambda _: None,
        warn=warnings.append,
    ) as spec:
        assert spec.target.env == {"MELTANO_EXTRACT__LOAD_SCHEMA": "raw"}
    assert len(warnings) == 1 and "no setting of target-flx-jsonl refers to" in warnings[0]

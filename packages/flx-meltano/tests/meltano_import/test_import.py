"""Importing Meltano projects through the bus: what FLX holds afterwards, repeatable and
safe imports, states that runs go on from, secrets encrypted at rest."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from flx_core.application import GetPipeline, GetPlugin
from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import (
    ApplyMeltanoImport,
    GetState,
    PlanMeltanoImport,
    RunPipeline,
    StateHistory,
)

from .conftest import wrapper, write_system_db

SYSTEM = Principal.system()
PASSWORD = "s3cr3t-from-dotenv"
TOKEN = "tok-in-yaml-0001"


async def send(runtime: Runtime, message: Any) -> Any:
    result = await runtime.app.execute(message, principal=SYSTEM)
    assert result.ok, result.message
    return result.value


def actions(plan: Any) -> dict[tuple[str, str], str]:
    return {(c.kind, c.name): c.action for c in plan.changes}


def small_project(project: Any, tmp_path: Path) -> Path:
    """The small project with the fixture connectors, their paths in its ``.env``."""
    root = project("small")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    tap = wrapper(bindir, "tap-fixture", "tap_fixture.py")
    target = wrapper(bindir, "target-fixture", "target_fixture.py")
    (root / ".env").write_text(
        f"TAP_FIXTURE_BIN={tap}\nTARGET_FIXTURE_BIN={target}\nOUT_PATH={tmp_path / 'out.json'}\n"
    )
    return root


async def test_import_creates_plugins_and_pipelines_as_meltano_resolves_them(
    runtime: Runtime, project: Any
) -> None:
    root = project("jobs")
    plan = await send(runtime, ApplyMeltanoImport(path=str(root)))
    assert plan.applied and plan.environment == "prod"
    assert actions(plan)[("plugin", "meltano-map-transformer")] == "create"
    github = await send(runtime, GetPipeline(pipeline="github-to-postgres"))
    assert github.mappers == ["meltano-map-transformer"]
    assert github.config["meltano-map-transformer"]["stream_maps"]["commits"] == {
        "author_email": "md5(author_email)"
    }
    assert str(github.schedule) == "@hourly"
    assert github.state_id == "prod:tap-github-to-target-postgres"
    gitlab = await send(runtime, GetPipeline(pipeline="gitlab-to-postgres"))
    assert str(gitlab.schedule) == "0 3 * * *"
    tap = await send(runtime, GetPlugin(name="tap-github"))
    assert tap.pip_url == "meltanolabs-tap-github" and tap.variant == "meltanolabs"
    assert tap.config["repositories"] == ["meltano/meltano"]


async def test_environment_overrides_select_and_lock_settings_reach_flx(
    runtime: Runtime, project: Any
) -> None:
    root = project("environments")
    await send(runtime, ApplyMeltanoImport(path=str(root), environment="prod"))
    tap = await send(runtime, GetPlugin(name="tap-postgres"))
    assert tap.config["host"] == "prod-db.internal" and tap.config["port"] == 6432
    assert "password" in tap.secret_names and "ssl_key" in tap.secret_names
    orders = await send(runtime, GetPipeline(pipeline="orders"))
    assert orders.select == ["public-orders.*", "public-customers.*"]
    assert orders.metadata["public-orders"]["replication-method"] == "INCREMENTAL"
    assert orders.state_id == "prod:tap-postgres-to-target-jsonl:blue"


async def test_a_second_import_changes_nothing_and_a_plan_changes_nothing(
    runtime: Runtime, project: Any
) -> None:
    root = project("jobs")
    await send(runtime, ApplyMeltanoImport(path=str(root)))
    before = await send(runtime, GetPipeline(pipeline="github-to-postgres"))
    planned = await send(runtime, PlanMeltanoImport(path=str(root)))
    again = await send(runtime, ApplyMeltanoImport(path=str(root)))
    for plan in (planned, again):
        assert not plan.changed
        assert set(actions(plan).values()) == {"unchanged"}
    after = await send(runtime, GetPipeline(pipeline="github-to-postgres"))
    assert after.version == before.version


async def test_a_changed_project_updates_what_changed(runtime: Runtime, project: Any) -> None:
    root = project("jobs")
    await send(runtime, ApplyMeltanoImport(path=str(root)))
    text = (root / "meltano.yml").read_text()
    text = text.replace("database: warehouse", "database: lakehouse")
    text = text.replace("interval: 0 3 * * *", "interval: 30 4 * * 1-5")
    (root / "meltano.yml").write_text(text)
    planned = await send(runtime, PlanMeltanoImport(path=str(root)))
    assert str((await send(runtime, GetPipeline(pipeline="gitlab-to-postgres"))).schedule) == (
        "0 3 * * *"
    )
    plan = await send(runtime, ApplyMeltanoImport(path=str(root)))
    for p in (planned, plan):
        changed = {(c.kind, c.name): c.fields for c in p.changes if c.action == "update"}
        assert changed == {
            ("plugin", "target-postgres"): ["config"],
            ("pipeline", "gitlab-to-postgres"): ["schedule"],
        }
    target = await send(runtime, GetPlugin(name="target-postgres"))
    assert target.config["database"] == "lakehouse"
    gitlab = await send(runtime, GetPipeline(pipeline="gitlab-to-postgres"))
    assert str(gitlab.schedule) == "30 4 * * 1-5"


async def test_imported_state_makes_the_run_move_only_rows_past_the_bookmark(
    runtime: Runtime, project: Any, tmp_path: Path
) -> None:
    root = small_project(project, tmp_path)
    db = write_system_db(
        root / ".meltano" / "meltano.db",
        {
            # The last complete run stopped at 5; a failed one since got to 7.
            "tap-fixture-to-target-fixture": (
                {"bookmarks": {"items": {"position": 5}}},
                {"bookmarks": {"items": {"position": 7}}},
            ),
            "tap-fixture-other-to-target-fixture": (
                {"bookmarks": {"others": {"position": 2}}},
                None,
            ),
        },
    )
    plan = await send(
        runtime, ApplyMeltanoImport(path=str(root), state_from=str(db), resolve_env=True)
    )
    assert not plan.partial, plan.unsupported
    state = await send(runtime, GetState(state_id="tap-fixture-to-target-fixture"))
    assert state.value == {"bookmarks": {"items": {"position": 7}}}
    assert state.note == "imported from Meltano"
    other = await send(runtime, GetState(state_id="tap-fixture-other-to-target-fixture"))
    assert other.value == {"bookmarks": {"others": {"position": 2}}}
    pipeline = await send(runtime, GetPipeline(pipeline="fixture-job"))
    assert pipeline.state_id == "tap-fixture-to-target-fixture"

    queued = await send(runtime, RunPipeline(pipeline="fixture-job"))
    assert runtime.executor is not None
    execution = await runtime.executor.wait(queued.id)
    assert execution.status is ExecutionStatus.SUCCEEDED, execution.error
    assert execution.records == 3
    moved = json.loads((tmp_path / "out.json").read_text())["items"]
    assert sorted(int(k) for k in moved) == [7, 8, 9]
    state = await send(runtime, GetState(state_id="tap-fixture-to-target-fixture"))
    assert state.value == {"bookmarks": {"items": {"position": 10}}}

    # Meltano's database still says 7: importing again must not move FLX back.
    again = await send(
        runtime, ApplyMeltanoImport(path=str(root), state_from=str(db), resolve_env=True)
    )
    kept = next(c for c in again.changes if c.name == "tap-fixture-to-target-fixture")
    assert kept.action == "kept" and "committed" in kept.reason
    state = await send(runtime, GetState(state_id="tap-fixture-to-target-fixture"))
    assert state.value == {"bookmarks": {"items": {"position": 10}}}


async def test_a_newer_meltano_state_replaces_the_one_imported_before(
    runtime: Runtime, project: Any, tmp_path: Path
) -> None:
    root = small_project(project, tmp_path)
    db = write_system_db(
        root / ".meltano" / "meltano.db",
        {"tap-fixture-to-target-fixture": ({"bookmarks": {"items": {"position": 4}}}, None)},
    )
    args = {"path": str(root), "state_from": str(db), "resolve_env": True}
    await send(runtime, ApplyMeltanoImport(**args))
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE state SET completed_state = ?",
            (json.dumps({"singer_state": {"bookmarks": {"items": {"position": 6}}}}),),
        )
    conn.close()
    plan = await send(runtime, ApplyMeltanoImport(**args))
    assert actions(plan)[("state", "tap-fixture-to-target-fixture")] == "update"
    history = await send(runtime, StateHistory(state_id="tap-fixture-to-target-fixture"))
    assert [v.value["bookmarks"]["items"]["position"] for v in history] == [6, 4]


async def test_secrets_are_encrypted_at_rest_and_masked_in_the_plan(
    runtime: Runtime, project: Any, flx_home: Path
) -> None:
    root = project("environments")
    plan = await send(runtime, ApplyMeltanoImport(path=str(root), resolve_env=True))
    shown = plan.model_dump_json()
    assert PASSWORD not in shown and TOKEN not in shown
    assert "********" in shown
    tap = await send(runtime, GetPlugin(name="tap-postgres"))
    assert tap.config["password"] == PASSWORD  # stored, and read back in clear
    target = await send(runtime, GetPlugin(name="target-jsonl"))
    assert "api_token" in target.secret_names and target.config["api_token"] == TOKEN
    stored = b"".join(p.read_bytes() for p in flx_home.iterdir() if p.name.startswith("flx.db"))
    assert stored and PASSWORD.encode() not in stored and TOKEN.encode() not in stored


async def test_unsupported_items_make_the_import_partial(runtime: Runtime, project: Any) -> None:
    plan = await send(runtime, ApplyMeltanoImport(path=str(project("dbt_airflow"))))
    assert plan.partial
    assert {"dbt-duckdb", "airflow"} <= {u.name for u in plan.unsupported}
    assert actions(plan)[("pipeline", "load-people")] == "create"


async def test_a_state_id_no_pipeline_uses_is_listed(
    runtime: Runtime, project: Any, tmp_path: Path
) -> None:
    root = small_project(project, tmp_path)
    db = write_system_db(tmp_path / "meltano.db", {"dev:tap-gone-to-target-x": ({"a": 1}, None)})
    plan = await send(
        runtime, ApplyMeltanoImport(path=str(root), state_from=str(db), resolve_env=True)
    )
    assert [(u.kind, u.name) for u in plan.unsupported] == [("state", "dev:tap-gone-to-target-x")]


async def test_a_plugin_flx_cannot_name_is_refused_with_its_name(
    runtime: Runtime, tmp_path: Path
) -> None:
    (tmp_path / "meltano.yml").write_text(
        "plugins:\n  extractors:\n  - name: Tap_Shouting\n    pip_url: tap-shouting\n"
    )
    result = await runtime.app.execute(ApplyMeltanoImport(path=str(tmp_path)), principal=SYSTEM)
    assert not result.ok
    assert result.message.startswith("extractor 'Tap_Shouting': ")
    assert "invalid plugin name" in result.message

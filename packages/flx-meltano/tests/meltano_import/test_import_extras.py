"""The extractor extras schema, catalog, state, load_schema and select_filter imported into
pipelines that run with them; what earlier imports created and the project dropped is
listed as left in FLX."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flx_core.application import CreatePipeline, DeletePipeline, GetPipeline
from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import ApplyMeltanoImport, PlanMeltanoImport, RunPipeline

from .conftest import with_flx_connectors

SYSTEM = Principal.system()


async def send(runtime: Runtime, message: Any) -> Any:
    result = await runtime.app.execute(message, principal=SYSTEM)
    assert result.ok, result.message
    return result.value


def actions(plan: Any) -> dict[tuple[str, str], str]:
    return {(c.kind, c.name): c.action for c in plan.changes}


async def test_the_extras_become_pipeline_fields_and_its_runs_apply_them(
    runtime: Runtime, project: Any, flx_home: Path
) -> None:
    root = with_flx_connectors(project("extras"))
    plan = await send(runtime, ApplyMeltanoImport(path=str(root)))
    assert plan.unsupported == [] and not plan.partial
    assert actions(plan)[("pipeline", "sample")] == "create"
    pipeline = await send(runtime, GetPipeline(pipeline="sample"))
    assert pipeline.schema_overrides == {
        "users": {"score": {"type": ["string", "null"]}, "nickname": {"type": ["string", "null"]}}
    }
    # Paths relative to the project become absolute; references resolve as Meltano's do.
    assert pipeline.state_path == str(root.resolve() / "extract" / "sample.state.json")
    assert pipeline.catalog_path is None
    assert pipeline.load_schema == "tap_sample_raw"
    assert pipeline.select_filter == ["*", "!events"]
    requested = await send(runtime, RunPipeline(pipeline="sample"))
    assert runtime.executor is not None
    done = await runtime.executor.wait(requested.id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    # The state file's bookmark (users' row 2), the select filter (no events), and the
    # loader's setting $MELTANO_EXTRACT__LOAD_SCHEMA (runs start in FLX_HOME).
    assert done.stream_counts == {"users": 7, "orders": 10}
    assert (flx_home / "tap_sample_raw" / "users.jsonl").read_text().count("\n") == 7


async def test_an_environment_s_catalog_file_and_filter_are_imported(
    runtime: Runtime, project: Any
) -> None:
    root = with_flx_connectors(project("extras"))
    await send(runtime, ApplyMeltanoImport(path=str(root), environment="fixed"))
    pipeline = await send(runtime, GetPipeline(pipeline="sample"))
    assert pipeline.catalog_path == str(root.resolve() / "extract" / "sample.catalog.json")
    assert pipeline.select_filter == ["users", "orders"]
    requested = await send(runtime, RunPipeline(pipeline="sample"))
    assert runtime.executor is not None
    done = await runtime.executor.wait(requested.id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    # The file selects users and events; the filter keeps users; the state file still holds.
    assert done.stream_counts == {"users": 7}


async def test_a_changed_extra_is_an_update_of_that_field_only(
    runtime: Runtime, project: Any
) -> None:
    root = with_flx_connectors(project("extras"))
    await send(runtime, ApplyMeltanoImport(path=str(root)))
    again = await send(runtime, PlanMeltanoImport(path=str(root)))
    assert not again.changed
    manifest = root / "meltano.yml"
    manifest.write_text(manifest.read_text().replace("select_filter: ['*', '!events']", ""))
    plan = await send(runtime, ApplyMeltanoImport(path=str(root)))
    (change,) = [c for c in plan.changes if c.action == "update"]
    assert (change.name, change.fields) == ("sample", ["select_filter"])
    assert (await send(runtime, GetPipeline(pipeline="sample"))).select_filter == []


async def test_what_an_earlier_import_created_and_the_project_dropped_is_left_in_flx(
    runtime: Runtime, project: Any
) -> None:
    root = with_flx_connectors(project("extras"))
    await send(runtime, ApplyMeltanoImport(path=str(root)))
    # Made by hand, not by the import: never listed.
    await send(
        runtime,
        CreatePipeline(name="by-hand", extractor="tap-sample", loader="target-sample-jsonl"),
    )
    manifest = root / "meltano.yml"
    text = manifest.read_text()
    manifest.write_text(text[: text.index("  loaders:")])  # no loader, no job
    plan = await send(runtime, ApplyMeltanoImport(path=str(root)))
    left = [(c.kind, c.name, c.reason) for c in plan.changes if c.action == "left"]
    assert left == [
        ("plugin", "target-sample-jsonl", "removed from the project, left in FLX"),
        ("pipeline", "sample", "removed from the project, left in FLX"),
    ]
    assert not plan.changed
    assert (await send(runtime, GetPipeline(pipeline="sample"))).name == "sample"  # kept
    # Once deleted in FLX, it is no longer listed.
    await send(runtime, DeletePipeline(pipeline="sample"))
    plan = await send(runtime, PlanMeltanoImport(path=str(root)))
    assert [(c.kind, c.name) for c in plan.changes if c.action == "left"] == [
        ("plugin", "target-sample-jsonl")
    ]

"""`ListStreams` and the check of a pipeline's rules see the pipeline's extractor extras as
its runs do: schema overrides, select filter, catalog file."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import CreatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal
from flx_meltano import ListStreams, RegisterBuiltinPlugins, ValidatePipeline
from flx_meltano.catalog import run_catalog
from flx_meltano.connectors.tap_sample import discover

SYSTEM = Principal.system()
TAP = "tap-flx-sample"


@pytest.fixture
async def runtime(flx_home: Path) -> AsyncIterator[Runtime]:
    rt = await bootstrap(load_settings())
    assert (await rt.app.execute(RegisterBuiltinPlugins(), principal=SYSTEM)).ok
    yield rt
    await rt.aclose()


async def execute(runtime: Runtime, message: Any) -> Any:
    return await runtime.app.execute(message, principal=SYSTEM)


async def create(runtime: Runtime, name: str, **fields: Any) -> Any:
    return await execute(
        runtime, CreatePipeline(name=name, extractor=TAP, loader="target-flx-jsonl", **fields)
    )


async def test_the_listing_shows_what_overrides_add_and_filters_drop(runtime: Runtime) -> None:
    assert (await execute(runtime, ListStreams(plugin=TAP))).ok  # caches the catalog
    created = await create(
        runtime,
        "p",
        select=["users.nickname", "users.id", "orders.*"],
        schema_overrides={"users": {"nickname": {"type": "string"}}},
        select_filter=["!orders"],
    )
    assert created.ok, created.message  # 'users.nickname' names what the override adds
    listing = (await execute(runtime, ListStreams(plugin=TAP, pipeline="p"))).value
    assert listing.unmatched == []
    by_name = {s.stream: s for s in listing.streams}
    assert by_name["users"].selected and not by_name["orders"].selected
    assert {p.path for p in by_name["users"].properties if p.selected} >= {"nickname", "id"}
    refused = await create(runtime, "q", select=["users.nickname"])
    assert not refused.ok and "matches no property" in refused.message


async def test_a_pipeline_with_a_catalog_file_lists_that_file(
    runtime: Runtime, tmp_path: Path
) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps(run_catalog(discover(), select=["events.*"])))
    # Rules naming nothing are not refused: a catalog file is used as it is.
    assert (await create(runtime, "p", catalog_path=str(catalog), select=["nope.*"])).ok
    listing = (await execute(runtime, ListStreams(plugin=TAP, pipeline="p"))).value
    assert not listing.cached
    assert [s.stream for s in listing.streams if s.selected] == ["events"]


async def test_a_select_filter_that_does_not_parse_is_refused(runtime: Runtime) -> None:
    refused = await create(runtime, "p", select_filter=["users..x"])
    assert not refused.ok and "select filter: invalid select pattern 'users..x'" in refused.message


async def test_validation_names_the_files_a_run_could_not_read(
    runtime: Runtime, tmp_path: Path
) -> None:
    state = tmp_path / "state.json"
    state.write_text("[1]")
    assert (
        await create(runtime, "p", catalog_path=str(tmp_path / "no.json"), state_path=str(state))
    ).ok
    report = (await execute(runtime, ValidatePipeline(pipeline="p"))).value
    assert not report.valid
    assert f"catalog file {tmp_path / 'no.json'} does not exist" in report.problems
    assert f"state file {state} does not hold a JSON object" in report.problems

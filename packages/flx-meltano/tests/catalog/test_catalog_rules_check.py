"""`ListStreams` discovers as a run does; pipelines whose select rules or metadata keys match
nothing in the tap's cached catalog are refused; a run warns about them."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from flx_core.application import AddPlugin, CreatePipeline, UpdatePipeline
from flx_core.bootstrap import Runtime, bootstrap
from flx_core.config import load_settings
from flx_core.domain import Principal
from flx_meltano import ListStreams, RegisterBuiltinPlugins, RunPipeline

SYSTEM = Principal.system()
TAP = "tap-flx-sample"
DISCOVER_TAP = Path(__file__).parent / "fixtures" / "discover_tap.py"


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


async def test_list_streams_discovers_once_and_shows_the_selection(runtime: Runtime) -> None:
    first = await execute(runtime, ListStreams(plugin=TAP))
    assert first.ok, first.message
    listing = first.value
    assert not listing.cached
    assert [s.stream for s in listing.streams] == ["users", "orders", "events"]
    assert all(s.selected for s in listing.streams)  # no rules: every stream
    users = listing.streams[0]
    assert (users.replication_method, users.replication_key) == ("INCREMENTAL", "updated_at")
    labels = {p.path: p.label for p in users.properties}
    assert labels["id"] == "automatic" and labels["email"] == "selected"

    assert (await create(runtime, "p", select=["users.*", "!users.email"])).ok
    listing = (await execute(runtime, ListStreams(plugin=TAP, pipeline="p"))).value
    assert listing.cached and listing.pipeline == "p"
    by_name = {s.stream: s for s in listing.streams}
    assert by_name["users"].selected and not by_name["orders"].selected
    labels = {p.path: p.label for p in by_name["users"].properties}
    assert labels == {
        "id": "automatic",
        "name": "selected",
        "email": "excluded",
        "country": "selected",
        "score": "selected",
        "active": "selected",
        "updated_at": "automatic",
    }
    # Rules to try, in place of the pipeline's.
    tried = (await execute(runtime, ListStreams(plugin=TAP, select=["orders.*", "x.*"]))).value
    assert [s.stream for s in tried.streams if s.selected] == ["orders"]
    assert tried.unmatched == [
        f"select rule 'x.*' matches no stream of {TAP}'s catalog; its streams: 'users', "
        "'orders', 'events'"
    ]


async def test_metadata_can_select_and_deselect(runtime: Runtime) -> None:
    query = ListStreams(
        plugin=TAP, select=["users.*"], metadata={"users": {"name": {"selected": False}}}
    )
    users = (await execute(runtime, query)).value.streams[0]
    assert {p.path: p.selected for p in users.properties}["name"] is False


async def test_list_streams_refuses_what_it_cannot_list(runtime: Runtime, tmp_path: Path) -> None:
    loader = await execute(runtime, ListStreams(plugin="target-flx-jsonl"))
    assert not loader.ok and "streams come from an extractor" in loader.message
    assert (await create(runtime, "p")).ok
    other = await execute(
        runtime,
        AddPlugin(plugin_type="extractor", name="tap-other", executable=sys.executable),
    )
    assert other.ok
    wrong = await execute(runtime, ListStreams(plugin="tap-other", pipeline="p"))
    assert not wrong.ok and "extracts with 'tap-flx-sample'" in wrong.message
    blind = await execute(runtime, ListStreams(plugin="tap-other"))
    assert not blind.ok and "cannot list its streams" in blind.message


async def test_a_failing_discovery_is_a_failure_with_the_tap_s_stderr(
    runtime: Runtime, tmp_path: Path
) -> None:
    script = tmp_path / "tap-discover"
    script.write_text(f'#!/bin/sh\nexec {sys.executable} {DISCOVER_TAP} "$@"\n')
    script.chmod(0o755)
    added = await execute(
        runtime,
        AddPlugin(
            plugin_type="extractor",
            name="tap-discover",
            executable=str(script),
            capabilities=["discover"],
        ),
    )
    assert added.ok
    failed = await execute(runtime, ListStreams(plugin="tap-discover", config={"fail": True}))
    assert not failed.ok
    assert failed.error_code == "discovery_failed"
    assert "exited with code 2" in failed.message and "auth failed: bad token" in failed.message
    listing = (await execute(runtime, ListStreams(plugin="tap-discover"))).value
    assert [s.stream for s in listing.streams] == ["users"]
    # The tap takes no catalog: its runs ignore select rules, and the listing says so.
    assert not listing.selection_applied


async def test_without_a_cached_catalog_nothing_is_refused(runtime: Runtime) -> None:
    assert (await create(runtime, "p", select=["nope.*"])).ok


async def test_a_rule_that_does_not_parse_is_refused_even_without_a_catalog(
    runtime: Runtime,
) -> None:
    refused = await create(runtime, "p", select=["users..name"])
    assert not refused.ok and "a name between dots is empty" in refused.message


async def test_rules_matching_nothing_in_the_cached_catalog_are_refused(runtime: Runtime) -> None:
    assert (await execute(runtime, ListStreams(plugin=TAP))).ok  # caches the catalog
    refused = await create(runtime, "p", select=["user.*", "!users.pasword"])
    assert not refused.ok
    assert refused.error_code == "invalid"
    assert (
        "select rule 'user.*' matches no stream of tap-flx-sample's catalog; closest: 'users'"
        in (refused.message)
    )
    assert "select rule '!users.pasword' matches no property of stream 'users'" in refused.message
    assert refused.details["unmatched"] and len(refused.details["unmatched"]) == 2

    refused = await create(runtime, "p", metadata={"orderz": {"replication-method": "FULL_TABLE"}})
    assert not refused.ok and "metadata key 'orderz' matches no stream" in refused.message

    assert (await create(runtime, "p", select=["users.*", "!users.email"])).ok
    refused = await execute(
        runtime, UpdatePipeline(pipeline="p", changes={"select": ["users.emial"]})
    )
    assert not refused.ok and "closest: 'users.email'" in refused.message
    refused = await execute(
        runtime, UpdatePipeline(pipeline="p", changes={"metadata": {"users": {"nme": {}}}})
    )
    assert not refused.ok and "metadata key 'users.nme'" in refused.message


async def test_the_catalog_checked_is_the_one_of_the_pipeline_s_effective_config(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert (await execute(runtime, ListStreams(plugin=TAP))).ok  # cached for the defaults
    # Another config is another catalog, not discovered yet: nothing to check against.
    assert (await create(runtime, "p", select=["user.*"], config={TAP: {"rows": 5}})).ok
    listing = (await execute(runtime, ListStreams(plugin=TAP, pipeline="p"))).value
    assert listing.unmatched and not listing.cached
    # Now cached: changing the rules is checked, changing the description is not.
    described = await execute(runtime, UpdatePipeline(pipeline="p", changes={"description": "d"}))
    assert described.ok
    refused = await execute(runtime, UpdatePipeline(pipeline="p", changes={"select": ["usr.*"]}))
    assert not refused.ok and "closest: 'users'" in refused.message
    # The environment is part of the effective config, as in a run.
    assert not (await create(runtime, "q", select=["user.*"])).ok
    monkeypatch.setenv("TAP_FLX_SAMPLE_ROWS", "7")
    assert (await create(runtime, "q", select=["user.*"])).ok


async def test_a_run_warns_about_rules_that_match_nothing(runtime: Runtime, tmp_path: Path) -> None:
    fields = {"config": {"target-flx-jsonl": {"destination_path": str(tmp_path / "out")}}}
    assert (await create(runtime, "p", select=["users.*", "user.*"], **fields)).ok
    requested = await execute(runtime, RunPipeline(pipeline="p"))
    assert requested.ok, requested.message
    done = await runtime.executor.wait(requested.value.id)
    assert done.status.value == "succeeded", done.error
    assert done.details["warnings"] == [
        "select rule 'user.*' matches no stream of tap-flx-sample's catalog; closest: 'users'"
    ]
    assert set(done.stream_counts) == {"users"}

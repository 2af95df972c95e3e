"""`flx plugin streams`, and pipelines refused for select rules that match nothing."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest

BIN = Path(sys.executable).parent


@pytest.fixture
def flx(cli: Any) -> Any:
    """`flx` with the sample tap (as `tap-sample`) and the JSONL target added."""
    cli(
        "plugin",
        "add",
        "extractor",
        "tap-sample",
        "--executable",
        str(BIN / "tap-flx-sample"),
        "--capabilities",
        "catalog,discover,state",
    )
    cli(
        "plugin",
        "add",
        "loader",
        "target-out",
        "--executable",
        str(BIN / "target-flx-jsonl"),
        "--config",
        f"destination_path={cli.work / 'out'}",
    )
    return cli


def catalogs(flx: Any) -> list[Path]:
    return sorted((flx.work / "home" / "catalogs").glob("tap-sample-*.json"))


def test_lists_streams_and_properties_discovering_once(flx: Any) -> None:
    first = flx("plugin", "streams", "tap-sample")
    lines = first.stdout.splitlines()
    assert lines[0] == "Streams of tap-sample"
    assert lines[1] == "[selected ] users  (INCREMENTAL by updated_at)"
    assert lines[2] == "[automatic] users.id"
    assert "[selected ] users.email" in lines
    assert "[selected ] events  (INCREMENTAL by updated_at)" in lines
    assert "cached" not in first.stderr
    [cache] = catalogs(flx)
    written = cache.stat().st_mtime_ns

    second = flx("plugin", "streams", "tap-sample")
    assert second.stdout == first.stdout
    assert "(cached catalog; --refresh discovers the streams again)" in second.stderr
    assert cache.stat().st_mtime_ns == written

    refreshed = flx("plugin", "streams", "tap-sample", "--refresh")
    assert "cached" not in refreshed.stderr
    assert cache.stat().st_mtime_ns != written


def test_shows_what_a_pipeline_selects(flx: Any) -> None:
    flx("pipeline", "create", "p", "-e", "tap-sample", "-l", "target-out", "-s", "users.*")
    flx("pipeline", "update", "p", "-s", "users.*", "-s", "!users.email")
    out = flx("plugin", "streams", "tap-sample", "--pipeline", "p").stdout.splitlines()
    assert out[0] == "Streams of tap-sample in pipeline p (select: users.*, !users.email)"
    assert "[selected ] users.name" in out
    assert "[excluded ] users.email" in out
    assert "[automatic] users.updated_at" in out
    assert "[excluded ] orders  (INCREMENTAL by updated_at)" in out
    assert "[excluded ] orders.amount" in out

    data = json.loads(flx("plugin", "streams", "tap-sample", "-p", "p", "--json").stdout)
    assert data["pipeline"] == "p" and data["select"] == ["users.*", "!users.email"]
    assert [(s["stream"], s["selected"]) for s in data["streams"]] == [
        ("users", True),
        ("orders", False),
        ("events", False),
    ]
    email = next(p for p in data["streams"][0]["properties"] if p["path"] == "email")
    assert email == {
        "path": "email",
        "inclusion": "available",
        "selected": False,
        "label": "excluded",
    }
    assert json.loads(flx("--json", "plugin", "streams", "tap-sample", "-p", "p").stdout) == data


def test_rules_matching_nothing_are_refused_and_warned_about(flx: Any) -> None:
    # Before any discovery there is nothing to check against: the run warns.
    flx(
        "pipeline",
        "create",
        "p",
        "-e",
        "tap-sample",
        "-l",
        "target-out",
        "-s",
        "user.*",
        "-s",
        "orders.*",
    )
    ran = flx("run", "p")
    warning = "select rule 'user.*' matches no stream of tap-sample's catalog; closest: 'users'"
    assert warning in ran.stdout + ran.stderr
    shown = json.loads(flx("--json", "execution", "list", "-p", "p").stdout)["items"][0]
    assert shown["details"]["warnings"] == [warning]
    assert set(shown["stream_counts"]) == {"orders"}

    # The catalog is cached now: the same mistake is refused at once.
    refused = flx(
        "pipeline",
        "create",
        "q",
        "-e",
        "tap-sample",
        "-l",
        "target-out",
        "-s",
        "users.emial",
        check=False,
    )
    assert refused.returncode == 1
    assert "select rule 'users.emial' matches no property of stream 'users'" in refused.stderr
    assert "closest: 'users.email'" in refused.stderr
    refused = flx(
        "pipeline", "update", "p", "--metadata", "userz.replication-method=FULL_TABLE", check=False
    )
    assert refused.returncode == 1
    assert "metadata key 'userz' matches no stream of tap-sample's catalog; closest: 'users'" in (
        refused.stderr
    )
    listing = flx("plugin", "streams", "tap-sample", "-p", "p")
    assert f"warning: {warning}" in listing.stderr


def test_errors(flx: Any) -> None:
    missing = flx("plugin", "streams", "tap-nope", check=False)
    assert missing.returncode == 1 and "plugin 'tap-nope' not found" in missing.stderr
    loader = flx("plugin", "streams", "target-out", check=False)
    assert loader.returncode == 1 and "streams come from an extractor" in loader.stderr
    unknown = flx("plugin", "streams", "tap-sample", "-p", "nope", check=False)
    assert unknown.returncode == 1 and "pipeline 'nope' not found" in unknown.stderr

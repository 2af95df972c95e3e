"""`flx pipeline create/update/show` with Meltano's extractor extras: --schema, --catalog,
--state-file, --load-schema and --select-filter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flx_cli.app import cli


@pytest.fixture
def runner(flx_home: Path) -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def shown(runner: CliRunner, name: str) -> dict[str, Any]:
    code, out, err = invoke(runner, "--json", "pipeline", "show", name)
    assert code == 0, err
    data: dict[str, Any] = json.loads(out)
    return data


def test_create_takes_the_extras_and_show_tells_them(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = invoke(
        runner,
        "pipeline",
        "create",
        "p",
        "-e",
        "tap-a",
        "-l",
        "target-b",
        "--schema",
        'users.score={"type": ["string", "null"]}',
        "--schema",
        'users.nickname={"type": "string"}',
        "--catalog",
        "extract/tap.catalog.json",
        "--state-file",
        str(tmp_path / "tap.state.json"),
        "--load-schema",
        "raw",
        "--select-filter",
        "users",
        "--select-filter",
        "!events",
    )
    assert code == 0, err
    data = shown(runner, "p")
    assert data["schema_overrides"] == {
        "users": {"score": {"type": ["string", "null"]}, "nickname": {"type": "string"}}
    }
    # A relative path is taken from where the command runs.
    assert data["catalog_path"] == str(tmp_path.resolve() / "extract" / "tap.catalog.json")
    assert data["state_path"] == str(tmp_path / "tap.state.json")
    assert (data["load_schema"], data["select_filter"]) == ("raw", ["users", "!events"])
    code, table, _ = invoke(runner, "pipeline", "show", "p")
    assert code == 0
    for word in ("schema_overrides", "catalog_path", "state_path", "load_schema", "!events"):
        assert word in table


def test_update_replaces_and_removes_the_extras(runner: CliRunner, tmp_path: Path) -> None:
    catalog = str(tmp_path / "c.json")
    code, _, err = invoke(
        runner,
        "pipeline",
        "create",
        "p",
        "-e",
        "tap-a",
        "-l",
        "target-b",
        "--schema",
        'users.score={"type": "string"}',
        "--catalog",
        catalog,
        "--load-schema",
        "raw",
        "--select-filter",
        "users",
    )
    assert code == 0, err
    code, _, err = invoke(runner, "pipeline", "update", "p", "--select-filter", "!events")
    assert code == 0, err
    data = shown(runner, "p")
    assert data["select_filter"] == ["!events"]
    assert (data["catalog_path"], data["load_schema"]) == (catalog, "raw")  # kept
    code, _, err = invoke(
        runner,
        "pipeline",
        "update",
        "p",
        "--no-schema",
        "--no-select-filter",
        "--catalog",
        "",
        "--load-schema",
        "",
    )
    assert code == 0, err
    data = shown(runner, "p")
    assert (data["schema_overrides"], data["select_filter"]) == ({}, [])
    assert (data["catalog_path"], data["load_schema"]) == (None, None)


@pytest.mark.parametrize(
    ("option", "message"),
    [
        ("score={}", "is not STREAM.PROPERTY=JSON"),
        ("users.score={nope", "the schema is not JSON"),
        ('users.score="string"', "the schema must be a JSON object"),
    ],
)
def test_a_bad_schema_option_is_one_line(runner: CliRunner, option: str, message: str) -> None:
    code, _, err = invoke(
        runner, "pipeline", "create", "p", "-e", "tap-a", "-l", "target-b", "--schema", option
    )
    assert code == 2 and message in err and "Traceback" not in err
    _, listing, _ = invoke(runner, "--json", "pipeline", "list")
    assert json.loads(listing)["items"] == []


def test_a_bad_select_filter_is_refused(runner: CliRunner) -> None:
    code, _, err = invoke(
        runner, "pipeline", "create", "p", "-e", "a", "-l", "b", "--select-filter", "!"
    )
    assert code != 0 and "names no stream" in err and "Traceback" not in err


def test_a_pipeline_file_s_paths_are_taken_from_its_folder(
    runner: CliRunner, tmp_path: Path
) -> None:
    folder = tmp_path / "pipelines"
    folder.mkdir()
    spec = folder / "p.yml"
    spec.write_text(
        "name: fromfile\nextractor: tap-a\nloader: target-b\n"
        "catalog_path: catalogs/tap.json\nstate_path: /srv/state.json\n"
        "select_filter: ['!events']\nschema_overrides: {users: {id: {type: string}}}\n"
    )
    code, _, err = invoke(runner, "pipeline", "create", "-f", str(spec))
    assert code == 0, err
    data = shown(runner, "fromfile")
    assert data["catalog_path"] == str(folder.resolve() / "catalogs" / "tap.json")
    assert data["state_path"] == "/srv/state.json"
    assert data["select_filter"] == ["!events"]
    assert data["schema_overrides"] == {"users": {"id": {"type": "string"}}}

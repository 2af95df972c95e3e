"""`flx plugin set|unset|config|update` and typed setting values, through real `flx` processes:
the tap of these tests copies the config file it is handed, so the tests read what it got."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

FLX = str(Path(sys.executable).parent / "flx")
Flx = Any  # the `cli` fixture of conftest.py

TAP = """#!/bin/sh
while [ $# -gt 0 ]; do
  if [ "$1" = "--config" ]; then cp "$2" "{seen}"; fi
  shift
done
echo '{{"type": "SCHEMA", "stream": "s", "schema": {{"properties": {{}}}}, "key_properties": []}}'
echo '{{"type": "RECORD", "stream": "s", "record": {{"id": 1}}}}'
"""


@pytest.fixture
def flx(cli: Flx) -> Flx:
    """Extractor tap-y (a tap that keeps its config in <work>/seen.json) into target-flx-jsonl
    through pipeline `p`, in a fresh home."""
    script = cli.work / "tap-y"
    script.write_text(TAP.format(seen=cli.work / "seen.json"))
    script.chmod(0o755)
    return cli


def seen(flx: Flx) -> dict[str, Any]:
    return dict(json.loads((flx.work / "seen.json").read_text()))


def add_tap(flx: Flx, *extra: str) -> None:
    flx("plugin", "add", "extractor", "tap-y", "--executable", str(flx.work / "tap-y"), *extra)


def make_pipeline(flx: Flx, *extra: str) -> None:
    out = flx.work / "out"
    flx("pipeline", "create", "p", "-e", "tap-y", "-l", "target-flx-jsonl",
        "--config", f"loader.destination_path={out}", *extra)  # fmt: skip


def test_values_take_the_declared_kind_and_reach_the_tap(flx: Flx) -> None:
    add_tap(
        flx,
        "--config", "password=123456",
        "--config", "port=5432",
        "--setting", "port:integer",
        "--config", "user=null",
        "--config", "schema=1e3",
        "--config", 'opts={"a": [1]}',
    )  # fmt: skip
    make_pipeline(flx)
    assert flx("run", "p").returncode == 0
    assert seen(flx) == {
        "password": "123456",
        "port": 5432,
        "user": "null",
        "schema": "1e3",
        "opts": {"a": [1]},
    }


def test_pipeline_config_takes_the_kinds_of_its_plugins(flx: Flx) -> None:
    add_tap(flx, "--setting", "port:integer", "--setting", "ssl:boolean")
    make_pipeline(
        flx, "--config", "extractor.port=5999", "--config", "tap-y.ssl=yes",
        "--config", "extractor.pin=0042",
    )  # fmt: skip
    shown = json.loads(flx("pipeline", "show", "p", "--json").stdout)
    assert shown["config"]["tap-y"] == {"port": 5999, "ssl": True, "pin": "0042"}
    flx("pipeline", "update", "p", "--config", "extractor.port=6000")
    flx("run", "p")
    assert seen(flx) == {"port": 6000, "ssl": True, "pin": "0042"}
    bad = flx("pipeline", "update", "p", "--config", "extractor.port=many", check=False)
    assert bad.returncode == 1
    assert bad.stderr == (
        "error: setting 'port' of plugin 'tap-y' in pipeline 'p' must be an integer (got 'many')\n"
    )


def test_set_while_a_pipeline_uses_the_plugin_and_the_next_run_gets_it(flx: Flx) -> None:
    add_tap(flx, "--config", "host=db1")
    make_pipeline(flx)
    done = flx("plugin", "set", "tap-y", "host", "db2")
    assert done.stdout == "tap-y: host = db2\n"
    flx("run", "p")
    assert seen(flx)["host"] == "db2"
    refused = flx("plugin", "remove", "tap-y", check=False)
    assert refused.returncode == 1 and "used by pipeline(s) p" in refused.stderr
    flx("plugin", "unset", "tap-y", "host")
    flx("run", "p")
    assert "host" not in seen(flx)


def test_set_a_secret_from_stdin(flx: Flx) -> None:
    add_tap(flx)
    make_pipeline(flx)
    result = subprocess.run(
        [FLX, "plugin", "set", "tap-y", "pin", "-", "--secret"],
        input="000123\n",
        env=flx.env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "tap-y: pin = ******** (secret)\n"
    shown = flx("plugin", "show", "tap-y", "--json").stdout
    assert "000123" not in shown
    assert json.loads(shown)["config"] == {"pin": "********"}
    listed = flx("plugin", "config", "tap-y").stdout
    assert "000123" not in listed and "********" in listed
    flx("run", "p")
    assert seen(flx) == {"pin": "000123"}


def test_a_value_of_the_wrong_kind_is_refused(flx: Flx) -> None:
    add_tap(flx, "--setting", "port:integer")
    bad = flx("plugin", "set", "tap-y", "port", "many", check=False)
    assert bad.returncode == 1
    assert bad.stderr == "error: setting 'port' of plugin 'tap-y' must be an integer (got 'many')\n"
    added = flx("plugin", "add", "extractor", "tap-z", "--setting", "n:integer",
                "--config", "n=x", check=False)  # fmt: skip
    assert added.returncode == 1 and "'n' of plugin 'tap-z' must be an integer" in added.stderr


def test_a_bad_environment_value_stops_the_run_with_one_line(flx: Flx) -> None:
    add_tap(flx, "--setting", "port:integer", "--config", "port=5432")
    make_pipeline(flx)
    failed = flx("run", "p", env=dict(flx.env, TAP_Y_PORT="abc"), check=False)
    assert failed.returncode == 1
    assert failed.stdout == ""
    [line] = failed.stderr.splitlines()
    assert line.startswith("error: environment variable TAP_Y_PORT must be an integer (got 'abc')")
    ok = flx("run", "p", env=dict(flx.env, TAP_Y_PORT="5999"))
    assert ok.returncode == 0 and seen(flx)["port"] == 5999


def test_config_shows_each_value_and_its_source(flx: Flx) -> None:
    add_tap(flx, "--setting", "port:integer", "--config", "port=5432", "--config", "host=db1",
            "--config", "password=pw1")  # fmt: skip
    make_pipeline(flx, "--config", "extractor.host=db9")
    env = dict(flx.env, TAP_Y_USER="me", COLUMNS="80")
    rows = json.loads(flx("plugin", "config", "tap-y", "--pipeline", "p", "--json", env=env).stdout)
    got = {r["name"]: (r["value"], r["source"], r["env"]) for r in rows}
    assert got == {
        "port": (5432, "plugin", "TAP_Y_PORT"),
        "host": ("db9", "pipeline", "TAP_Y_HOST"),
        "password": ("********", "plugin", "TAP_Y_PASSWORD"),
        "user": ("me", "environment", "TAP_Y_USER"),
    }
    plain = json.loads(flx("plugin", "config", "tap-y", "--json", env=env).stdout)
    assert {r["name"]: r["source"] for r in plain}["host"] == "plugin"
    table = flx("plugin", "config", "tap-y", "-p", "p", env=env).stdout
    assert "pw1" not in table
    line = next(row for row in table.splitlines() if row.startswith("host"))
    assert line.split() == ["host", "db9", "pipeline", "TAP_Y_HOST"]
    other = flx("plugin", "config", "tap-flx-sample", "-p", "p", check=False)
    assert other.returncode == 1
    assert "pipeline 'p' does not use plugin 'tap-flx-sample'" in other.stderr
    note = flx("plugin", "set", "tap-y", "user", "you", env=env)
    assert "note: TAP_Y_USER in this environment overrides it" in note.stderr


def test_update_while_used_and_reinstall_when_the_pip_url_changes(flx: Flx) -> None:
    add_tap(flx)
    make_pipeline(flx)
    updated = flx("plugin", "update", "tap-y", "--capabilities", "state,about", "--json")
    data = json.loads(updated.stdout)
    assert data["capabilities"] == ["state", "about"] and data["changed"] == ["capabilities"]
    assert flx("plugin", "update", "tap-y", "--capabilities", "state,about").stdout == (
        "tap-y: nothing changed\n"
    )
    assert flx("plugin", "update", "tap-y", check=False).returncode == 2

    # Not installed: the new pip_url is recorded, the install is left to `flx plugin install`.
    flx("plugin", "add", "extractor", "tap-pkg", "--pip-url", "tap-pkg==1.0")
    hint = flx("plugin", "update", "tap-pkg", "--pip-url", "tap-pkg==1.1")
    assert "install it with `flx plugin install tap-pkg`" in hint.stdout
    # Installed (a venv holds its executable): a new pip_url reinstalls it, and a failed
    # install keeps the previous venv.
    venv_bin = flx.work / "home" / "plugins" / "extractor" / "tap-pkg" / "venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "tap-pkg").write_text("#!/bin/sh\n")
    (venv_bin / "tap-pkg").chmod(0o755)
    missing = flx.work / "no-such-package"
    again = flx("plugin", "update", "tap-pkg", "--pip-url", str(missing), check=False)
    assert again.returncode == 1
    assert "updated extractor tap-pkg: pip_url" in again.stdout
    assert "tap-pkg: failed" in again.stdout
    assert (venv_bin / "tap-pkg").exists()
    skipped = flx("plugin", "update", "tap-pkg", "--pip-url", "tap-pkg==2", "--no-install")
    assert skipped.returncode == 0 and "flx plugin install tap-pkg" in skipped.stdout
    shown = json.loads(flx("plugin", "show", "tap-pkg", "--json").stdout)
    assert shown["pip_url"] == "tap-pkg==2"


def test_builtin_connectors_without_the_demo(cli: Flx, tmp_path: Path) -> None:
    listed = json.loads(cli("plugin", "list", "--json").stdout)
    rows = listed if isinstance(listed, list) else listed["connectors"]
    names = {r["name"] for r in rows}
    assert {"tap-flx-sample", "target-flx-jsonl", "target-flx-sqlite"} <= names
    cli("pipeline", "create", "x", "-e", "tap-flx-sample", "-l", "target-flx-jsonl",
        "--config", f"loader.destination_path={tmp_path / 'out'}",
        "--config", "extractor.rows=3")  # fmt: skip
    shown = json.loads(cli("pipeline", "show", "x", "--json").stdout)
    assert shown["config"]["tap-flx-sample"] == {"rows": 3}  # declared an integer
    ran = cli("run", "x")
    assert "total: 9 records" in ran.stdout

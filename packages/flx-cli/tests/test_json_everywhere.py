"""`--json` before the command (`flx --json pipeline list`) or after it (`flx pipeline list
--json`): the same machine-readable output, for every command that prints something."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from flx_cli.app import cli

PASSWORD = "correct horse battery staple"


@pytest.fixture
def flx(flx_home: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("FLX_BCRYPT_ROUNDS", "4")
    monkeypatch.setenv("FLX_DAEMON", "off")
    runner = CliRunner()

    def invoke(*args: str, input: str | None = None, code: int = 0) -> Any:
        result = runner.invoke(cli, list(args), input=input)
        assert result.exit_code == code, (args, result.stdout, result.stderr, result.exception)
        return result

    return invoke


def both(flx: Any, *args: str, code: int = 0) -> Any:
    """The JSON of ``flx --json ARGS`` after checking ``flx ARGS --json`` prints the same."""
    before = flx("--json", *args, code=code).stdout
    after = flx(*args, "--json", code=code).stdout
    assert json.loads(before) == json.loads(after), args
    return json.loads(after)


def trailing(flx: Any, *args: str, input: str | None = None) -> Any:
    return json.loads(flx(*args, "--json", input=input).stdout)


@pytest.fixture
def home(flx: Any, tmp_path: Path) -> Any:
    """A pipeline of the built-in connectors that ran once, and an admin."""
    out = tmp_path / "out"
    flx("pipeline", "create", "x", "-e", "tap-flx-sample", "-l", "target-flx-jsonl",
        "--config", f"loader.destination_path={out}", "--config", "extractor.rows=2")  # fmt: skip
    flx("run", "x", "--json")
    flx("user", "create", "admin@example.com", "--admin", "--password-stdin", input=PASSWORD)
    return flx


def test_every_listing_and_show_takes_json_after_the_command(home: Any) -> None:
    flx = home
    executions = both(flx, "execution", "list")["items"]
    assert len(executions) == 1 and executions[0]["status"] == "succeeded"
    execution_id = executions[0]["id"]
    assert both(flx, "execution", "show", execution_id)["id"] == execution_id
    assert both(flx, "execution", "show", execution_id[:6])["id"] == execution_id
    assert [p["name"] for p in both(flx, "pipeline", "list")["items"]] == ["x"]
    assert both(flx, "pipeline", "show", "x")["name"] == "x"
    plugins = both(flx, "plugin", "list")
    rows = plugins if isinstance(plugins, list) else plugins["connectors"]
    assert "tap-flx-sample" in {r["name"] for r in rows}
    assert both(flx, "plugin", "show", "tap-flx-sample")["name"] == "tap-flx-sample"
    settings = both(flx, "plugin", "config", "tap-flx-sample", "--pipeline", "x")
    assert {r["name"]: r["value"] for r in settings}["rows"] == 2
    assert [s["state_id"] for s in both(flx, "state", "list")] == ["x"]
    assert both(flx, "state", "get", "x")["state_id"] == "x"
    assert both(flx, "state", "history", "x")[0]["state_id"] == "x"
    assert [u["email"] for u in both(flx, "user", "list")] == ["admin@example.com"]
    assert both(flx, "user", "show", "admin@example.com")["email"] == "admin@example.com"
    assert both(flx, "auth", "sessions", "admin@example.com") == []
    assert "home" in both(flx, "config", "show")
    assert "core" in {r["package"] for r in both(flx, "db", "current")}
    assert both(flx, "daemon", "status", code=1) == {"running": False}


def test_commands_that_change_things_print_json_after_the_command(home: Any) -> None:
    flx = home
    pair = trailing(
        flx, "auth", "login", "--email", "admin@example.com", "--password-stdin", input=PASSWORD
    )
    assert pair["access_token"] and pair["refresh_token"]
    assert trailing(flx, "auth", "verify", pair["access_token"])["valid"] is True
    assert trailing(flx, "auth", "rotate-keys")["kid"]
    assert trailing(flx, "auth", "revoke", "--all", "admin@example.com")["email"]
    assert trailing(flx, "user", "create", "v@example.com", "--password-stdin", input=PASSWORD)[
        "roles"
    ] == ["viewer"]
    assert trailing(flx, "user", "set-role", "v@example.com", "operator")["roles"] == ["operator"]
    assert trailing(flx, "user", "disable", "v@example.com")["active"] is False
    assert trailing(flx, "user", "delete", "v@example.com", "--yes") == {"deleted": "v@example.com"}
    assert trailing(flx, "pipeline", "update", "x", "-d", "nightly")["description"] == "nightly"
    assert trailing(flx, "pipeline", "disable", "x")["enabled"] is False
    assert trailing(flx, "plugin", "set", "tap-flx-sample", "seed", "9")["config"] == {"seed": 9}
    assert trailing(flx, "plugin", "unset", "tap-flx-sample", "seed")["config"] == {}
    assert trailing(flx, "plugin", "install") == []
    assert trailing(flx, "state", "set", "x", '{"bookmarks": {}}')["value"] == {"bookmarks": {}}
    assert trailing(flx, "state", "restore", "x", "1")["state_id"] == "x"
    assert trailing(flx, "state", "clear", "x") == {"cleared": "x"}
    assert trailing(flx, "db", "upgrade")["core"]
    assert trailing(flx, "pipeline", "delete", "x", "--yes") == {"deleted": "x"}


def every_command(group: click.Group, ctx: click.Context, path: str = "") -> list[Any]:
    found = []
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None:
            continue
        if isinstance(command, click.Group):
            found.extend(every_command(command, ctx, f"{path}{name} "))
        else:
            found.append((f"{path}{name}", command))
    return found


#: Commands whose output is not a result: a live log, a file, or the demo's story.
#: Commands that print no result: a log, the demo's story, and the long-running processes
#: (and the hidden one that runs a queued execution in the background), which log.
NOT_JSON = {"execution logs", "demo", "execution resume", "scheduler", "worker"}


def test_json_is_an_option_of_every_command_that_prints(flx_home: Path) -> None:
    with click.Context(cli) as ctx:
        commands = every_command(cli, ctx)
    assert len(commands) > 40
    lacking = [
        path
        for path, command in commands
        if path not in NOT_JSON
        and path.split()[0] != "extension"
        and not any("--json" in p.opts for p in command.params)
    ]
    assert lacking == []

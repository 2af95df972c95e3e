"""`flx daemon start|stop|status`: the warm process that `flx` hands its commands to."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import click

from flx_cli.context import CliContext, fail, pass_cli
from flx_cli.output import json_option, print_json, print_mapping, say

WAIT_SECONDS = 30.0


@click.group()
def daemon() -> None:
    """The FLX daemon: warm starts for `flx` commands typed at a terminal.

    It imports FLX once and forks a worker per command (`flx run`, `flx pipeline list`, ...),
    which saves most of their start-up.

    \b
    FLX_DAEMON=auto  the default: only a command whose stdin and stdout are both
                     terminals goes to the daemon (and starts one if none runs);
                     one from cron, systemd, CI or a script runs in its own
                     process and starts nothing
    FLX_DAEMON=on    every command goes to the daemon (and starts one)
    FLX_DAEMON=off   every command runs in its own process

    The daemon leaves after FLX_DAEMON_IDLE_SECONDS (1800) without a command, or when FLX's
    code changes. `flx user` and `flx auth` (they read passwords) always run in their own
    process. If a `flx` process handing its command to the daemon is killed, its run ends
    failed, as the run of a killed cold `flx run` does, and its tap and target are stopped.
    """


def _status() -> dict[str, Any] | None:
    from flx_cli.daemon.client import ask

    answer = ask("status")
    return answer if answer and "pid" in answer else None


def _wait_for(condition: Any) -> Any:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    return None


def _show(cli: CliContext, status: dict[str, Any]) -> None:
    if cli.json:
        print_json(status)
        return
    started = datetime.fromtimestamp(float(status["started"]), UTC)
    print_mapping(
        "FLX daemon",
        {
            "pid": status["pid"],
            "started": started.isoformat(timespec="seconds"),
            "commands served": status["served"],
            "running now": ", ".join(str(p) for p in status["running"]) or "-",
            "idle timeout": f"{status['idle_seconds']:.0f}s",
            "socket": status["socket"],
        },
    )


@daemon.command("status")
@json_option
@pass_cli
def status(cli: CliContext) -> None:
    """Show the daemon of this FLX installation; exit 1 if none runs."""
    found = _status()
    if found is None:
        if cli.json:
            print_json({"running": False})
        fail("no FLX daemon runs for this installation")
    _show(cli, found)


@daemon.command("start")
@json_option
@pass_cli
def start(cli: CliContext) -> None:
    """Start the daemon now (a no-op if it runs) and wait until it answers."""
    from flx_cli.daemon import protocol
    from flx_cli.daemon.client import start_in_background

    if protocol.runtime_dir() is None:
        fail("no private directory for the daemon's socket (set FLX_DAEMON_DIR to one)")
    found = _status()
    if found is None:
        start_in_background(force=True)
        found = _wait_for(_status)
        if found is None:
            from flx_cli.daemon.client import log_path

            fail(f"the daemon did not answer within {WAIT_SECONDS:.0f}s; see {log_path()}")
    elif not cli.json:
        say(f"already running (pid {found['pid']})")
    _show(cli, found)


@daemon.command("stop")
@json_option
@pass_cli
def stop(cli: CliContext) -> None:
    """Stop the daemon: it takes no new command and leaves once the running ones have finished."""
    from flx_cli.daemon.client import ask

    answer = ask("stop")
    if not answer or not answer.get("stopping"):
        if cli.json:
            print_json({"stopped": False, "running": False})
            return
        say("no FLX daemon runs for this installation")
        return
    workers = int(answer.get("workers", 0))
    gone = bool(_wait_for(lambda: _status() is None))
    if cli.json:
        print_json({"stopped": gone, "finishing": workers})
    elif workers:
        say(f"stopped taking commands; {workers} still finishing")
    else:
        say("stopped" if gone else "asked to stop; it still answers")

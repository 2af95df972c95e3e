"""`flx execution`: list, show, logs (with --follow) and cancel runs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flx_cli.commands.run import execution_dict, summary_lines
from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import (
    Column,
    json_option,
    print_json,
    print_table,
    say,
    short_id,
    wide_option,
)

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


async def _reap(runtime: Runtime) -> None:
    """Before showing executions: a run whose process died is marked failed, so it does
    not look alive (a failure here only delays that to the next look)."""
    from flx_core.domain import Principal
    from flx_meltano import ReapDeadExecutions

    await runtime.app.execute(ReapDeadExecutions(), principal=Principal.system())


async def _execute(runtime: Runtime, message: Any) -> Any:
    from flx_core.domain import Principal

    return unwrap(await runtime.app.execute(message, principal=Principal.system()))


@click.group()
def execution() -> None:
    """List, inspect, follow and cancel runs."""


@execution.command("list")
@click.option("--pipeline", "-p", default=None, help="Only runs of this pipeline.")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(["pending", "queued", "running", "succeeded", "failed", "cancelled"]),
)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", default=None)
@wide_option
@json_option
@pass_cli
def list_executions(
    cli: CliContext,
    pipeline: str | None,
    statuses: tuple[str, ...],
    limit: int,
    cursor: str | None,
    wide: bool,
) -> None:
    """List runs, newest first."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import ListExecutions
        from flx_core.domain import ExecutionStatus
        from flx_core.domain.ports import ExecutionFilter

        flt = ExecutionFilter(
            pipeline_name=pipeline, statuses=frozenset(ExecutionStatus(s) for s in statuses)
        )
        await _reap(runtime)
        return await _execute(runtime, ListExecutions(filter=flt, limit=limit, cursor=cursor))

    page = cli.run(go)
    if cli.json:
        print_json(
            {"items": [execution_dict(e) for e in page.items], "next_cursor": page.next_cursor}
        )
        return
    rows = [
        (
            e.id,
            e.pipeline_name,
            e.status.value,
            e.trigger,
            e.started_at,
            e.finished_at,
            f"{e.duration.seconds:.1f}s" if e.duration else "",
            f"{e.records:,}",
            e.error or "",
        )
        for e in page.items
    ]
    print_table(
        "Executions",
        [
            Column("id", "id"),
            "pipeline",
            Column("status", "fixed"),
            Column("trigger", wide=True),
            Column("started", "time"),
            Column("finished", "time", wide=True),
            Column("duration", "fixed"),
            Column("records", "fixed"),
            "error",
        ],
        rows,
        wide=wide,
    )
    if page.next_cursor:
        say(f"more: flx execution list --cursor {page.next_cursor}")


@execution.command("show")
@click.argument("execution_id")
@json_option
@pass_cli
def show(cli: CliContext, execution_id: str) -> None:
    """Show one run: status, times, exit codes, per-stream counts, error."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import GetExecution

        await _reap(runtime)
        return await _execute(runtime, GetExecution(execution_id=execution_id))

    found = cli.run(go)
    if cli.json:
        print_json(execution_dict(found))
        return
    for line in summary_lines(found, warnings=True):
        click.echo(line)
    click.echo(
        f"  status: {found.status.value}, trigger: {found.trigger}, "
        f"exit codes: {found.exit_codes or '-'}"
    )


@execution.command("logs")
@click.argument("execution_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--tail", type=int, default=None, help="Only the last N lines.")
@pass_cli
def logs(cli: CliContext, execution_id: str, follow: bool, tail: int | None) -> None:
    """Print the log of a run (tap and target stderr, timestamped)."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import GetExecution

        return await _execute(runtime, GetExecution(execution_id=execution_id))

    found = cli.run(go)
    path = Path(found.log_path) if found.log_path else None
    if path is None or (not path.exists() and (not follow or found.status.is_terminal)):
        fail(f"execution {short_id(found.id)} has no log: {_no_log_reason(found, path)}")
    offset = _print_file(path, tail)
    while follow:
        time.sleep(0.5)
        offset = _print_file(path, None, offset)

        async def status(runtime: Runtime, ident: str = found.id) -> Any:
            from flx_core.application import GetExecution

            return await _execute(runtime, GetExecution(execution_id=ident))

        if cli.run(status).status.is_terminal:
            _print_file(path, None, offset)
            break


def _no_log_reason(execution: Any, path: Path | None) -> str:
    status = execution.status.value
    if not execution.status.is_terminal:
        return f"it is {status} and its connectors have not written one yet (--follow waits)"
    if path is None:
        return f"none was recorded for it ({status})"
    if execution.started_at is None or not execution.exit_codes:
        error = (execution.error or "").splitlines()[0] if execution.error else status
        return f"it ended before its connectors started ({error})"
    return f"{path} does not exist (deleted?)"


def _print_file(path: Path, tail: int | None, offset: int = 0) -> int:
    if not path.exists():
        return offset
    with path.open("rb") as fh:
        fh.seek(offset)
        data = fh.read()
    if tail is not None:
        data = b"\n".join(data.splitlines()[-tail:]) + b"\n" if data else data
    click.echo(data.decode("utf-8", errors="replace"), nl=False)
    return offset + len(data) if tail is None else path.stat().st_size


@execution.command("cancel")
@click.argument("execution_id")
@json_option
@pass_cli
def cancel(cli: CliContext, execution_id: str) -> None:
    """Ask a run to stop; the process running it stops tap and target within seconds."""

    async def go(runtime: Runtime) -> Any:
        from flx_meltano import CancelExecution

        return await _execute(runtime, CancelExecution(execution_id=execution_id))

    found = cli.run(go)
    if cli.json:
        print_json(execution_dict(found))
    elif found.status.value == "cancelled":
        say(f"execution {short_id(found.id)} cancelled")
    else:
        say(f"cancel requested for execution {short_id(found.id)}; it stops within seconds")

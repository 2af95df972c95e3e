"""`flx execution`: list, show, logs (with --follow) and cancel runs."""

from __future__ import annotations

import asyncio
import sys
import time
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
    not look alive (a failure here only delays that to the next look). A retry it queues
    runs in a background `flx` process when this command cannot run it (the local
    executor ends with this command)."""
    from flx_core.domain import Principal
    from flx_meltano import ReapDeadExecutions

    result = await runtime.app.execute(ReapDeadExecutions(), principal=Principal.system())
    if result.ok and not result.value.submitted:
        for execution_id in result.value.retries:
            resume_in_background(execution_id)


def resume_in_background(execution_id: str) -> None:
    """Run a queued execution in a `flx` process of its own session (it outlives this one)."""
    import os
    import shutil
    import subprocess
    import sys

    flx = shutil.which("flx") or os.path.join(os.path.dirname(sys.executable), "flx")
    subprocess.Popen(
        [flx, "execution", "resume", execution_id],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
        env={**os.environ, "FLX_DAEMON": "off"},
    )


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
@click.option("--trigger", type=click.Choice(["manual", "schedule", "retry", "api"]), default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=20, show_default=True)
@click.option("--cursor", default=None)
@wide_option
@json_option
@pass_cli
def list_executions(
    cli: CliContext,
    pipeline: str | None,
    statuses: tuple[str, ...],
    trigger: str | None,
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
            pipeline_name=pipeline,
            statuses=frozenset(ExecutionStatus(s) for s in statuses),
            trigger=trigger,
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
            e.attempt,
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
            Column("attempt", "fixed", wide=True),
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
        f"  status: {found.status.value}, trigger: {found.trigger} (by {found.requested_by}), "
        f"attempt: {found.attempt}, exit codes: {found.exit_codes or '-'}"
    )
    if found.retry_of:
        click.echo(f"  retry of: {found.retry_of}")
    if found.details.get("next_attempt"):
        click.echo(f"  retried as: {found.details['next_attempt']}")


#: How often `flx execution logs --follow` asks for new bytes.
FOLLOW_POLL_SECONDS = 0.5


@execution.command("logs")
@click.argument("execution_id")
@click.option("--follow", "-f", is_flag=True, help="Keep printing new lines until the run ends.")
@click.option("--tail", type=click.IntRange(min=0), default=None, help="Only the last N lines.")
@pass_cli
def logs(cli: CliContext, execution_id: str, follow: bool, tail: int | None) -> None:
    """Print the log of a run (tap and target stderr, timestamped).

    It is read from the log store: with logs in the database, from any machine, whichever
    one ran it."""

    async def go(runtime: Runtime) -> None:
        from flx_meltano import ReadExecutionLog

        await _reap(runtime)
        answer = await _execute(runtime, ReadExecutionLog(execution_id=execution_id, tail=tail))
        reaped = time.monotonic()
        # Against a server the rest comes as it is written (SSE), else by reading again.
        streamed = getattr(runtime.executor, "follow_log", None)
        while True:
            found = answer.execution
            if answer.size is None and (not follow or found.status.is_terminal):
                fail(f"execution {short_id(found.id)} has no log: {_no_log_reason(found)}")
            click.echo(answer.chunk.data, nl=False)
            caught_up = answer.size is None or answer.chunk.next_offset >= answer.size
            if caught_up:
                if not follow or answer.complete:
                    return
                if streamed is not None:
                    ended, offset = await streamed(
                        found.id, answer.chunk.next_offset, lambda text: click.echo(text, nl=False)
                    )
                    if ended is not None:
                        return
                    streamed = None  # no stream: read on from where it stopped
                    answer = await _execute(
                        runtime, ReadExecutionLog(execution_id=found.id, offset=offset)
                    )
                    continue
                await asyncio.sleep(FOLLOW_POLL_SECONDS)
                if time.monotonic() - reaped >= runtime.settings.reaper_interval:
                    # A run whose process died ends (failed), so following it ends too.
                    await _reap(runtime)
                    reaped = time.monotonic()
            offset = answer.chunk.next_offset
            answer = await _execute(runtime, ReadExecutionLog(execution_id=found.id, offset=offset))

    cli.run(go)


def _no_log_reason(execution: Any) -> str:
    status = execution.status.value
    if not execution.status.is_terminal:
        return f"it is {status} and its connectors have not written one yet (--follow waits)"
    if execution.log_path is None:
        return f"none was recorded for it ({status})"
    if execution.started_at is None or not execution.exit_codes:
        error = (execution.error or "").splitlines()[0] if execution.error else status
        return f"it ended before its connectors started ({error})"
    return f"neither the log store nor {execution.log_path} holds it (deleted?)"


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


@execution.command("retry")
@click.argument("execution_id")
@json_option
@pass_cli
def retry(cli: CliContext, execution_id: str) -> None:
    """Run a failed or cancelled execution's pipeline again, as its next attempt.

    Embedded (FLX_EXECUTOR=local) the attempt runs in this command, which waits for it as
    `flx run` does; with workers it is queued and its id printed. Against a server the
    command follows the attempt there, as `flx run` does."""
    local = cli.remote or cli.settings().executor == "local"

    async def go(runtime: Runtime) -> Any:
        from flx_cli.commands.run import WarningsOnly, follow
        from flx_meltano import RetryExecution

        queued = await _execute(runtime, RetryExecution(execution_id=execution_id))
        if not local:
            return queued
        say(f"attempt {queued.attempt}: execution {short_id(queued.id)}")
        return await follow(runtime, queued, WarningsOnly())

    found = cli.run(go)
    if cli.json:
        print_json(execution_dict(found))
    elif not local:
        click.echo(found.id)
        say(
            f"queued attempt {found.attempt}: follow it with `flx execution logs "
            f"{short_id(found.id)} --follow`"
        )
    else:
        for line in summary_lines(found):
            click.echo(line)
        if found.status.value != "succeeded":
            raise SystemExit(1)


@execution.command("resume", hidden=True)
@click.argument("execution_id")
@pass_cli
def resume(cli: CliContext, execution_id: str) -> None:
    """Run a queued execution in this process (how a short-lived command hands over a run
    it queued but cannot wait for); exit code 0 when it succeeds."""

    async def go(runtime: Runtime) -> Any:
        from flx_cli.commands.run import WarningsOnly, follow
        from flx_core.application import GetExecution
        from flx_core.domain import Principal
        from flx_core.domain.ports import RunRequest

        found = await _execute(runtime, GetExecution(execution_id=execution_id))
        assert runtime.executor is not None
        runtime.executor.submit(
            RunRequest(
                execution_id=found.id,
                pipeline_id=found.pipeline_id,
                principal=Principal.system(),
                full_refresh=found.full_refresh,
                queue=found.queue,
                not_before=found.not_before,
            )
        )
        return await follow(runtime, found, WarningsOnly())

    done = cli.run(go)
    sys.exit(0 if done.status.value == "succeeded" else 1)

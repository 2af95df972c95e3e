"""`flx run PIPELINE`: run a pipeline now, with a live view and a summary."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import json_option, print_json, short_id

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


def execution_dict(execution: Any) -> dict[str, Any]:
    data: dict[str, Any] = execution.model_dump(mode="json")
    data["duration_seconds"] = execution.duration.seconds if execution.duration else None
    data["warnings"] = execution.warnings
    return data


def summary_lines(execution: Any, *, warnings: bool = False) -> list[str]:
    duration = execution.duration.seconds if execution.duration else 0.0
    lines = [
        f"{execution.pipeline_name}: {execution.status.value} in {duration:.2f}s "
        f"(execution {short_id(execution.id)})"
    ]
    if execution.stream_counts:
        for stream, count in sorted(execution.stream_counts.items()):
            lines.append(f"  {stream}: {count:,} records")
    rate = execution.records / duration if duration > 0 else 0
    lines.append(
        f"  total: {execution.records:,} records ({rate:,.0f}/s), "
        f"{execution.state_commits} state commit(s)"
    )
    if warnings:
        lines.extend(f"warning: {w}" for w in execution.warnings)
    if execution.error:
        lines.append("error: " + execution.error.replace("\n", "\n  "))
    if execution.log_path and Path(execution.log_path).exists():
        lines.append(f"  log: {execution.log_path}")
    return lines


async def run_pipeline(
    runtime: Runtime,
    cli: CliContext,
    name: str,
    full_refresh: bool,
    refresh_catalog: bool,
    timeout: float | None,
    trigger: str = "manual",
    show_progress: bool = True,
    idempotency_key: str | None = None,
    on_requested: Callable[[Any], None] | None = None,
) -> Any:
    """Request a run and follow it (and its retries) to its end with the live view; the
    last attempt's execution."""
    from flx_cli.progress import LiveProgress, PlainProgress
    from flx_core.domain import Principal
    from flx_meltano import CancelExecution

    executor = runtime.executor
    if executor is None:
        fail("this process has no executor to run pipelines")
    observer: Any = None
    if show_progress and not cli.json:
        observer = LiveProgress() if sys.stderr.isatty() else PlainProgress()
    else:
        observer = WarningsOnly()
    loop = asyncio.get_running_loop()
    current: list[str] = []  # the execution followed now, once requested
    stop: list[str | None] = []  # why to stop: None to cancel, or the failure reason
    pending: set[asyncio.Task[Any]] = set()

    def cancel(execution_id: str, reason: str | None) -> None:
        if executor.cancel(execution_id, reason):
            return
        # It runs elsewhere (a worker): ask through the database; the worker stops it.
        task = loop.create_task(
            runtime.app.execute(
                CancelExecution(execution_id=execution_id), principal=Principal.system()
            )
        )
        pending.add(task)
        task.add_done_callback(pending.discard)

    def on_signal() -> None:
        from flx_cli.daemon.worker import abandoned

        if stop:
            return
        reason = abandoned()  # set when this is a daemon's worker whose `flx` was killed
        stop.append(reason)
        if reason is None:
            click.echo("stopping: cancelling the run (tap and target get SIGTERM)...", err=True)
        if current:
            cancel(current[-1], reason)

    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # not under nohup
        signals.append(signal.SIGHUP)  # the terminal closed: stop the run, as Ctrl-C does
    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        execution = await request_run(
            runtime, name, full_refresh, refresh_catalog, timeout, idempotency_key, trigger
        )
        if on_requested is not None:
            on_requested(execution)
        while True:
            current.append(execution.id)
            if stop:  # a signal came while the run was being requested
                cancel(execution.id, stop[0])
            execution = await follow(runtime, execution, observer)
            retry = execution.details.get("next_attempt")
            if stop or retry is None or execution.status.value != "failed":
                return execution
            click.echo(
                f"attempt {execution.attempt} failed: {first_line(execution.error)}; "
                f"retrying as execution {short_id(retry)} (attempt {execution.attempt + 1})",
                err=True,
            )
            execution = await get_execution(runtime, retry)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)


async def request_run(
    runtime: Runtime,
    pipeline: str,
    full_refresh: bool,
    refresh_catalog: bool,
    timeout: float | None,
    idempotency_key: str | None,
    trigger: str = "manual",
) -> Any:
    """Queue a run of ``pipeline``; the queued execution (or stop with the refusal)."""
    from flx_core.domain import Principal
    from flx_meltano import RunPipeline

    request = RunPipeline(
        pipeline=pipeline,
        full_refresh=full_refresh,
        refresh_catalog=refresh_catalog,
        timeout=timeout,
        trigger=trigger,
        idempotency_key=idempotency_key,
    )
    return unwrap(await runtime.app.execute(request, principal=Principal.system()))


async def follow(runtime: Runtime, execution: Any, observer: Any) -> Any:
    """Wait for the execution to end: through the executor when it runs in this process,
    else by reading its record (a run on a worker, or a retry another process queued)."""
    from flx_core.domain import NotFound

    assert runtime.executor is not None
    try:
        return await runtime.executor.wait(execution.id, observer)
    except NotFound:
        pass
    while not execution.status.is_terminal:
        await asyncio.sleep(0.5)
        execution = await get_execution(runtime, execution.id)
    return execution


async def get_execution(runtime: Runtime, execution_id: str) -> Any:
    from flx_core.application import GetExecution
    from flx_core.domain import Principal

    return unwrap(
        await runtime.app.execute(
            GetExecution(execution_id=execution_id), principal=Principal.system()
        )
    )


def first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if (text or "").strip() else "failed"


class WarningsOnly:
    """The observer of a run without a live view: only its warnings, on stderr."""

    def started(self, execution: Any) -> None:
        return None

    def warning(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        return None

    def state_committed(self, version: int) -> None:
        return None

    def finished(self, execution: Any, result: Any) -> None:
        return None


@click.command()
@click.argument("pipeline")
@click.option("--full-refresh", is_flag=True, help="Ignore the stored state: extract everything.")
@click.option("--refresh-catalog", is_flag=True, help="Run discovery again.")
@click.option(
    "--timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Stop the run after SECONDS.",
)
@click.option(
    "--detach",
    "-d",
    is_flag=True,
    help="Print the execution's id and return; the run goes on (on a worker, or in a "
    "background process).",
)
@click.option(
    "--idempotency-key",
    default=None,
    metavar="KEY",
    help="A repeat with the same KEY within 24 hours returns the same execution.",
)
@click.option("--report-fd", type=int, default=None, hidden=True)
@json_option
@pass_cli
def run(
    cli: CliContext,
    pipeline: str,
    full_refresh: bool,
    refresh_catalog: bool,
    timeout: float | None,
    detach: bool,
    idempotency_key: str | None,
    report_fd: int | None,
) -> None:
    """Run PIPELINE now; exit code 0 only when it succeeds (with --detach: when it was
    queued)."""
    if detach:
        detached(cli, pipeline, full_refresh, refresh_catalog, timeout, idempotency_key)
        return

    def report(execution: Any) -> None:
        if report_fd is not None:  # the `flx run --detach` that started this process
            with os.fdopen(report_fd, "w") as out:
                out.write(json.dumps({"id": execution.id}))

    async def go(runtime: Runtime) -> Any:
        return await run_pipeline(
            runtime,
            cli,
            pipeline,
            full_refresh,
            refresh_catalog,
            timeout,
            show_progress=report_fd is None,
            idempotency_key=idempotency_key,
            on_requested=report,
        )

    execution = cli.run(go)
    if cli.json:
        print_json(execution_dict(execution))
    elif never_started(execution):
        # Preparation failed (a bad setting, a missing executable, discovery): the error
        # is all there is to say.
        click.echo(f"error: {execution.error} (execution {short_id(execution.id)})", err=True)
        if execution.log_path and Path(execution.log_path).exists():
            click.echo(f"  log: {execution.log_path}", err=True)
    else:
        for line in summary_lines(execution):
            click.echo(line, err=execution.status.value != "succeeded" and line.startswith("error"))
    sys.exit(0 if execution.status.value == "succeeded" else 1)


def detached(
    cli: CliContext,
    pipeline: str,
    full_refresh: bool,
    refresh_catalog: bool,
    timeout: float | None,
    idempotency_key: str | None,
) -> None:
    """Queue the run and print its id. With workers (FLX_EXECUTOR=celery) the request is
    all there is to do; embedded, a background `flx run` process requests and runs it, and
    tells this one the id (or the error) through a pipe. Against a server, the server
    runs it: the request is all there is to do."""
    if cli.remote or cli.settings().executor != "local":

        async def go(runtime: Runtime) -> Any:
            return await request_run(
                runtime, pipeline, full_refresh, refresh_catalog, timeout, idempotency_key
            )

        show_detached(cli, cli.run(go))
        return
    show_detached(
        cli,
        spawn_background_run(
            cli, pipeline, full_refresh, refresh_catalog, timeout, idempotency_key
        ),
    )


def spawn_background_run(
    cli: CliContext,
    pipeline: str,
    full_refresh: bool,
    refresh_catalog: bool,
    timeout: float | None,
    idempotency_key: str | None,
) -> Any:
    """Start `flx run` in a background process of its own session (it outlives this one
    and any terminal); the execution it requested, once it says."""
    import shutil
    import subprocess
    import tempfile

    read_end, write_end = os.pipe()
    argv = [shutil.which("flx") or os.path.join(os.path.dirname(sys.executable), "flx")]
    argv += ["run", pipeline, "--report-fd", str(write_end)]
    argv += ["--full-refresh"] * full_refresh + ["--refresh-catalog"] * refresh_catalog
    if timeout is not None:
        argv += ["--timeout", str(timeout)]
    if idempotency_key is not None:
        argv += ["--idempotency-key", idempotency_key]
    env = {**os.environ, "FLX_DAEMON": "off"}
    # Its stderr goes to an unlinked file: read if it fails before requesting the run,
    # and never a pipe that would break once this process is gone.
    with (
        open(os.devnull, "rb") as null_in,
        open(os.devnull, "wb") as null_out,
        tempfile.TemporaryFile() as errors,
    ):
        proc = subprocess.Popen(
            argv,
            stdin=null_in,
            stdout=null_out,
            stderr=errors,
            pass_fds=(write_end,),
            start_new_session=True,
            env=env,
        )
        os.close(write_end)
        with os.fdopen(read_end) as reader:
            said = reader.read()
        if not said:  # it stopped before requesting the run: its error says why
            proc.wait()
            errors.seek(0)
            error = errors.read().decode(errors="replace").strip()
            fail(
                error.removeprefix("error: ") or f"the background run exited with {proc.returncode}"
            )

    async def go(runtime: Runtime) -> Any:
        return await get_execution(runtime, json.loads(said)["id"])

    return cli.run(go)


def show_detached(cli: CliContext, execution: Any) -> None:
    if cli.json:
        print_json(execution_dict(execution))
    else:
        click.echo(execution.id)
        click.echo(
            f"queued: follow it with `flx execution logs {short_id(execution.id)} --follow`",
            err=True,
        )


def never_started(execution: Any) -> bool:
    """A failed execution whose connectors never ran."""
    return bool(
        execution.status.value == "failed"
        and execution.error
        and not execution.exit_codes
        and not execution.records
    )

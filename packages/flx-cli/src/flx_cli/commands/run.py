"""`flx run PIPELINE`: run a pipeline now, with a live view and a summary."""

from __future__ import annotations

import asyncio
import signal
import sys
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
) -> Any:
    """Request a run, follow it to its end with the live view; the finished execution."""
    from flx_cli.progress import LiveProgress, PlainProgress
    from flx_core.domain import Principal
    from flx_meltano import RunPipeline

    executor = runtime.executor
    if executor is None:
        fail("this process has no executor to run pipelines")
    observer: Any = None
    if show_progress and not cli.json:
        observer = LiveProgress() if sys.stderr.isatty() else PlainProgress()
    else:
        observer = WarningsOnly()
    loop = asyncio.get_running_loop()
    requested: list[str] = []  # the execution's id, once the run is requested
    stop: list[str | None] = []  # why to stop: None to cancel, or the failure reason

    def on_signal() -> None:
        from flx_cli.daemon.worker import abandoned

        if stop:
            return
        reason = abandoned()  # set when this is a daemon's worker whose `flx` was killed
        stop.append(reason)
        if reason is None:
            click.echo("stopping: cancelling the run (tap and target get SIGTERM)...", err=True)
        if requested:
            executor.cancel(requested[0], reason)

    signals = [signal.SIGINT, signal.SIGTERM]
    if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # not under nohup
        signals.append(signal.SIGHUP)  # the terminal closed: stop the run, as Ctrl-C does
    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        execution = unwrap(
            await runtime.app.execute(
                RunPipeline(
                    pipeline=name,
                    full_refresh=full_refresh,
                    refresh_catalog=refresh_catalog,
                    timeout=timeout,
                    trigger=trigger,
                ),
                principal=Principal.system(),
            )
        )
        requested.append(execution.id)
        if stop:  # a signal came while the run was being requested
            executor.cancel(execution.id, stop[0])
        return await executor.wait(execution.id, observer)
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)


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
@json_option
@pass_cli
def run(
    cli: CliContext, pipeline: str, full_refresh: bool, refresh_catalog: bool, timeout: float | None
) -> None:
    """Run PIPELINE now; exit code 0 only when it succeeds."""

    async def go(runtime: Runtime) -> Any:
        return await run_pipeline(runtime, cli, pipeline, full_refresh, refresh_catalog, timeout)

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


def never_started(execution: Any) -> bool:
    """A failed execution whose connectors never ran."""
    return bool(
        execution.status.value == "failed"
        and execution.error
        and not execution.exit_codes
        and not execution.records
    )

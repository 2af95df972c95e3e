"""`flx scheduler`: fire the pipelines' cron schedules (and reap dead runs) until stopped.

A process of its own (never the daemon): it belongs in its caller's process tree, like
`flx serve` and `flx worker`. Several may run against one database, on one machine or many;
each cron time fires once.
"""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, describe, fail, pass_cli
from flx_cli.metrics import metrics_port as serving_metrics, metrics_port_option

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_core.config import FlxSettings


@click.command()
@click.option("--once", is_flag=True, help="Fire what is due now, wait for it, and exit.")
@click.option(
    "--tick",
    type=click.FloatRange(0.05, 60),
    default=None,
    help="Seconds between two looks at the schedules (FLX_SCHEDULER_TICK, default 1).",
)
@metrics_port_option
@pass_cli
def scheduler(
    cli: CliContext,
    once: bool,
    tick: float | None,
    metrics_port: int | None,
    metrics_host: str | None,
) -> None:
    """Fire pipelines' cron schedules until SIGTERM or Ctrl-C.

    Enabled pipelines with a schedule run at its times, read in the pipeline's timezone.
    After a downtime a pipeline with `catchup: skip` runs once for what it missed, one with
    `catchup: all` runs for every missed time (the last 100 at most). Runs go to the
    configured executor: in this process (local) or to `flx worker` processes (celery).

    With --metrics-port its metrics (ticks, the time of the last one, fires and their lag,
    reaped executions) are served on that port for Prometheus.
    """
    settings = cli.settings()
    if tick is not None:
        settings = settings.model_copy(update={"scheduler_tick": tick})
    try:
        with serving_metrics(metrics_host or settings.api_host, metrics_port):
            asyncio.run(_serve(cli, settings, once))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:
        if cli.debug:
            raise
        fail(describe(exc))


def _log_fires(cli: CliContext, settings: FlxSettings) -> None:
    """A scheduler's log is its output: each fire is logged at info, shown unless the
    level was chosen (FLX_LOG_LEVEL, --debug)."""
    if cli.debug or "log_level" in settings.model_fields_set or settings.debug_mode:
        return
    from flx_observability import configure_logging

    configure_logging("info", settings.log_format)


async def _serve(cli: CliContext, settings: FlxSettings, once: bool) -> None:
    from flx_core.application import ProcessKind
    from flx_core.bootstrap import bootstrap
    from flx_meltano import Scheduler

    runtime = await bootstrap(settings, kind=ProcessKind.SCHEDULER)
    _log_fires(cli, settings)  # after the migrations' own chatter
    try:
        scheduler = Scheduler(runtime.app, settings)
        if once:
            fired = await scheduler.tick()
            await _wait_for_local_runs(runtime, [f.execution_id for f in fired if f.execution_id])
            return
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await scheduler.run(stop)
    finally:
        # Runs this process started (local executor) are stopped and their ends recorded.
        await runtime.aclose()


async def _wait_for_local_runs(runtime: Runtime, execution_ids: list[str]) -> None:
    """With the local executor the runs live in this process: let them finish before it
    exits (with celery they are on the workers' queue already)."""
    executor: Any = runtime.executor
    local = set(getattr(executor, "active", []) or [])
    for execution_id in execution_ids:
        if execution_id in local:
            await executor.wait(execution_id)

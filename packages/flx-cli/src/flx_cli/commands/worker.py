"""`flx worker`: run the executions the celery executor sends to this machine's queues."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from flx_cli.context import EXIT_USAGE, CliContext, fail, pass_cli
from flx_cli.metrics import metrics_port as serving_metrics, metrics_port_option

LOG_LEVELS = ("debug", "info", "warning", "error")


def _queues(value: str | None) -> list[str]:
    names = [q.strip() for q in (value or "").split(",") if q.strip()]
    if value is not None and not names:
        raise click.BadParameter("name at least one queue", param_hint="--queues")
    return names


@click.command()
@click.option(
    "--concurrency",
    "-c",
    type=click.IntRange(min=1, max=1024),
    default=None,
    help="Runs at once (pool processes); default FLX_MAX_CONCURRENT_RUNS.",
)
@click.option(
    "--queues",
    "-Q",
    default=None,
    metavar="A,B",
    help="Queues to take runs from; default FLX_DEFAULT_QUEUE.",
)
@click.option(
    "--loglevel",
    "-l",
    type=click.Choice(LOG_LEVELS, case_sensitive=False),
    default="info",
    show_default=True,
)
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(min=0),
    default=10.0,
    show_default=True,
    metavar="SECONDS",
    help="On SIGTERM, how long runs may go on before they are stopped (and end failed).",
)
@metrics_port_option
@pass_cli
def worker(
    cli: CliContext,
    concurrency: int | None,
    queues: str | None,
    loglevel: str,
    shutdown_grace: float,
    metrics_port: int | None,
    metrics_host: str | None,
) -> None:
    """Run the executions sent to QUEUES, each in a pool process of its own, until stopped.

    Needs FLX_EXECUTOR=celery, FLX_BROKER_URL (amqp:// or redis://) and the database every
    process of the installation uses (FLX_DATABASE_URL). On SIGTERM it stops taking runs,
    lets the running ones go on for --shutdown-grace seconds, then stops them.

    With --metrics-port the worker's metrics (runs active and ended, summed over its pool
    processes) are served on that port for Prometheus.
    """
    from flx_observability import configure_logging

    settings = cli.settings()
    if settings.executor != "celery":
        fail(
            "flx worker needs FLX_EXECUTOR=celery (and FLX_BROKER_URL): with the local "
            "executor every process runs its own pipelines",
            EXIT_USAGE,
        )
    configure_logging("debug" if cli.debug else loglevel.lower(), settings.log_format)

    async def build() -> Any:
        """The FLX process of one pool child, built in that child (never before the fork);
        the worker checked the schema before starting its children."""
        from flx_core.application import ProcessKind
        from flx_core.bootstrap import bootstrap

        return await bootstrap(settings, kind=ProcessKind.WORKER, migrate=False)

    # Before the pool forks: its children write their metrics where this process reads them.
    pool_metrics = settings.home_path / "metrics" / f"worker-{os.getpid()}"
    with serving_metrics(
        metrics_host or settings.api_host, metrics_port, multiprocess=pool_metrics
    ):
        code = _run(settings, build, concurrency, queues, loglevel, shutdown_grace)
    sys.exit(code)


def _run(
    settings: Any,
    build: Any,
    concurrency: int | None,
    queues: str | None,
    loglevel: str,
    shutdown_grace: float,
) -> int:
    from flx_core.domain import DomainError
    from flx_meltano.distributed import run_worker

    try:
        return run_worker(
            settings,
            build,
            concurrency=concurrency or settings.max_concurrent_runs,
            queues=_queues(queues) or [settings.default_queue],
            loglevel=loglevel,
            shutdown_grace=shutdown_grace,
        )
    except DomainError as exc:
        fail(exc.message)

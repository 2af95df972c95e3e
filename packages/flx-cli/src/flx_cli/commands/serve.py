"""`flx serve`: the REST API, the dashboard, the gRPC API, and beside them the scheduler and
(local executor) the runs.

A process of its own (never the daemon), like `flx scheduler` and `flx worker`: it belongs
in its caller's process tree. What one server process is made of, and how it stops, is in
:mod:`flx_cli.server`.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import sys
from typing import TYPE_CHECKING

import click

from flx_cli.context import EXIT_USAGE, CliContext, describe, fail, pass_cli
from flx_cli.output import json_option

if TYPE_CHECKING:
    import socket

    from flx_cli.server import ServeOptions
    from flx_core.config import FlxSettings


@click.command()
@click.option(
    "--host", default=None, help="Address to listen on (FLX_API_HOST, default 127.0.0.1)."
)
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=None,
    help="Port to listen on (FLX_API_PORT, default 8000; 0: any free port).",
)
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Server processes sharing the port; each runs its own scheduler and runs.",
)
@click.option(
    "--no-scheduler",
    is_flag=True,
    help="Do not fire schedules here (another `flx serve` or `flx scheduler` does).",
)
@click.option(
    "--shutdown-grace",
    type=click.FloatRange(min=0),
    default=None,
    metavar="SECONDS",
    help="On SIGTERM, how long running executions may finish before they are cancelled "
    "(FLX_SHUTDOWN_GRACE_SECONDS, default 30).",
)
@click.option(
    "--api-only",
    "only",
    flag_value="api",
    help="Serve only the REST API (no dashboard, no gRPC) in this process.",
)
@click.option(
    "--web-only",
    "only",
    flag_value="web",
    help="Serve only the web dashboard (no REST API, no gRPC) in this process.",
)
@click.option(
    "--grpc-only",
    "only",
    flag_value="grpc",
    help="Serve only the gRPC API (the HTTP port keeps /health and /metrics).",
)
@json_option
@pass_cli
def serve(
    cli: CliContext,
    host: str | None,
    port: int | None,
    workers: int,
    no_scheduler: bool,
    shutdown_grace: float | None,
    only: str | None,
) -> None:
    """Serve the REST API (docs at /docs), the web dashboard (/) and Prometheus metrics
    (/metrics) on the HTTP port, and the gRPC API on FLX_GRPC_PORT, until SIGTERM or Ctrl-C.

    With the local executor (the embedded default) the runs requested through the API run
    in this process, and the scheduler fires the pipelines' cron schedules here. With
    FLX_EXECUTOR=celery the runs go to `flx worker` processes; the scheduler still runs here
    unless --no-scheduler (several schedulers never fire a time twice).

    On SIGTERM the server stops taking requests, runs that have not started are cancelled,
    running ones get --shutdown-grace seconds to finish and are then cancelled.
    """
    from flx_cli.server import (
        ServeOptions,
        ServeRefused,
        configure_server_logging,
        grpc_port_free,
        has_users,
        listen,
        prepare_database,
    )

    settings = cli.settings()
    if shutdown_grace is not None:
        settings = settings.model_copy(update={"shutdown_grace_seconds": shutdown_grace})
    host = host or settings.api_host
    port = settings.api_port if port is None else port
    options = ServeOptions(
        scheduler=not no_scheduler,
        log_level=_log_level(cli, settings),
        api=only in (None, "api"),
        web=only in (None, "web"),
        grpc=only in (None, "grpc"),
    )
    try:
        sock = listen(host, port)
        if options.grpc:
            grpc_port_free(settings)
    except ServeRefused as exc:
        fail(str(exc))
    configure_server_logging(options.log_level, settings.log_format)
    from flx_observability import configure_tracing

    # Every span of this process is the server's, the look for users below included.
    configure_tracing("server")
    try:
        prepare_database(settings)
        anyone = asyncio.run(has_users(settings))
    except ServeRefused as exc:
        sock.close()
        fail(str(exc))
    except KeyboardInterrupt:
        fail("interrupted", 130)
    except Exception as exc:
        sock.close()
        from flx_core.config import SettingsError

        if isinstance(exc, SettingsError):
            fail(str(exc), EXIT_USAGE)
        if cli.debug:
            raise
        fail(describe(exc))
    port = sock.getsockname()[1]
    _announce(cli, settings, host, port, workers, options, anyone)
    code = _run(settings, options, sock, host, port, workers)
    sys.exit(code)


def _log_level(cli: CliContext, settings: FlxSettings) -> str:
    """A server's log is its output: info unless a level was chosen (FLX_LOG_LEVEL,
    --verbose, --debug)."""
    if cli.debug or settings.debug_mode:
        return "debug"
    if cli.verbose:
        return "info"
    return settings.log_level if "log_level" in settings.model_fields_set else "info"


def _announce(
    cli: CliContext,
    settings: FlxSettings,
    host: str,
    port: int,
    workers: int,
    options: ServeOptions,
    anyone: bool,
) -> None:
    """The start line (with --json: one JSON object on stdout, for whoever started the
    server on any free port to learn its URL)."""
    from flx_cli.server import base_url

    url = base_url(host, port)
    if cli.json:
        started = {
            "url": url,
            "docs": f"{url}/docs",
            "executor": settings.executor,
            "scheduler": options.scheduler,
            "parts": [p for p in ("api", "web", "grpc") if getattr(options, p)],
            "grpc": f"{settings.grpc_host}:{settings.grpc_port}" if options.grpc else None,
            "processes": workers,
            "users": anyone,
        }
        click.echo(json.dumps(started))
    else:
        where = "runs in this process" if settings.executor == "local" else "runs on `flx worker`"
        processes = f"{workers} processes" if workers > 1 else "1 process"
        click.echo(
            f"flx serve: {url} (API docs: {url}/docs) - executor {settings.executor} "
            f"({where}), scheduler {'on' if options.scheduler else 'off'}, {processes}; "
            "Ctrl-C to stop",
            err=True,
        )
        if options.web:
            click.echo(f"dashboard: {url}/ (log in as a user of `flx user create`)", err=True)
    if workers > 1 and not settings.redis_url:
        click.echo(
            f"note: without FLX_REDIS_URL each of the {workers} processes counts the rate "
            "limits on its own",
            err=True,
        )
    if not anyone:
        click.echo(
            "no user yet: create the first admin with `flx user create EMAIL --admin`, "
            "or set FLX_ADMIN_EMAIL and FLX_ADMIN_PASSWORD before starting",
            err=True,
        )


def _run(
    settings: FlxSettings,
    options: ServeOptions,
    sock: socket.socket,
    host: str,
    port: int,
    workers: int,
) -> int:
    """Serve until stopped; the exit code (0 after a graceful stop)."""
    import uvicorn

    from flx_cli.server import FACTORY, HTTP_DRAIN_SECONDS, server_app

    common = {
        "host": host,
        "port": port,
        "lifespan": "on",
        "log_config": None,
        "log_level": options.log_level,
        "access_log": options.log_level in ("debug", "info"),
        "server_header": False,
        "timeout_graceful_shutdown": int(HTTP_DRAIN_SECONDS),
        # A worker busy importing on a loaded machine is not a hung one.
        "timeout_worker_healthcheck": 30,
    }
    # After a graceful stop uvicorn raises the signal it caught again, for the default
    # handler to end the process by it; the stop is done and clean, so the exit is 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    if workers == 1:
        config = uvicorn.Config(server_app(settings, options), **common)  # type: ignore[arg-type]
        server = uvicorn.Server(config)
        server.run(sockets=[sock])
        if not server.started:
            fail("the server did not start (see the log above)")
        return 0
    from uvicorn.config import STARTUP_FAILURE
    from uvicorn.supervisors import Multiprocess

    # Each worker is a fresh interpreter that reads its settings from the environment:
    # what was given as options travels there.
    os.environ["FLX_SHUTDOWN_GRACE_SECONDS"] = repr(settings.shutdown_grace_seconds)
    os.environ[options.ENV] = options.to_env()
    # The workers' metrics add up on /metrics: prometheus_client's multiprocess mode.
    from flx_observability import use_multiprocess_dir

    mine = settings.home_path / "metrics" / f"serve-{os.getpid()}"
    owned = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else mine
    use_multiprocess_dir(mine)
    config = uvicorn.Config(FACTORY, factory=True, workers=workers, **common)  # type: ignore[arg-type]
    supervisor = Multiprocess(config, sockets=[sock])
    try:
        supervisor.run()
    finally:
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)
    if any(p.exitcode == STARTUP_FAILURE for p in supervisor.processes):
        fail("a server process did not start (see the log above)")
    return 0

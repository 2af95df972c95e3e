"""The `flx serve` process: the API application (with the dashboard mounted at ``/`` and
``/metrics``), the gRPC API and the work that run beside it, the probes of
``/health/ready``, and what is checked before the first request.

``server_app`` is what one server process serves. With several uvicorn workers each worker
is a process of its own started from an import string (``app_from_environment``), so
everything a worker needs travels in its environment: the settings as ``FLX_*`` variables,
the options of `flx serve` that are not settings in ``FLX_SERVE_OPTIONS``. Each worker
builds its own runtime in the application's lifespan (``bootstrap`` with the ``server``
kind): its database connections, its executor, its scheduler.

Beside the API, in each process:

- the scheduler (``flx_meltano.Scheduler``): cron firing, the reaper, pruning. Several
  schedulers on one database never fire a time twice (the database lets each through once),
  so each worker, and every `flx serve` of an installation, may run one;
- the executor's runs: with the local executor the runs requested through this process run
  in it, as tasks of its event loop; with celery they go to `flx worker` processes.

Stopping (SIGTERM, Ctrl-C): uvicorn stops accepting connections and gives open ones
``HTTP_DRAIN_SECONDS`` (a live log stream never ends by itself); then the scheduler stops,
runs that have not started are cancelled at once (with the local executor nobody else would
take them: left queued, they would only be reaped later as lost), and running ones get
``shutdown_grace_seconds`` to finish before they are cancelled (a second Ctrl-C cancels
them at once). Every run of the process ends recorded (succeeded, failed or cancelled), and
its tap and target are stopped. Cancelled, not failed: a failed run may be retried, and its
retry would go to an executor that is closing.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import json
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    from fastapi import FastAPI

    from flx_api import ReadinessCheck, RuntimeLike
    from flx_core.bootstrap import Runtime
    from flx_core.config import FlxSettings

log = structlog.get_logger(__name__)

# Read by grpc when it is first imported, which is later in a server process: with gRPC's
# fork support on, connectors started while the gRPC API serves are sometimes killed
# (SIGABRT) between fork and exec. An explicit setting wins.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

#: How long open HTTP connections (log and event streams among them) may go on once the
#: server stops accepting new ones; then they are closed and the runs' grace begins.
HTTP_DRAIN_SECONDS = 5.0
#: The import string of the application factory of each worker process.
FACTORY = "flx_cli.server:app_from_environment"
#: Connections waiting to be accepted (uvicorn's default).
BACKLOG = 2048
#: Why the runs of a stopping server end.
SHUTDOWN_REASON = "server shutting down"


class ServeRefused(Exception):
    """`flx serve` cannot start; the message is one line, without secrets."""


@dataclass(frozen=True)
class ServeOptions:
    """What `flx serve` passes to each of its processes besides the settings."""

    #: Run the scheduler (cron firing, reaper) in this process.
    scheduler: bool = True
    #: Serve the REST API (``/api/v1``, ``/docs``) on the HTTP port.
    api: bool = True
    #: Serve the web dashboard (``/``) on the HTTP port.
    web: bool = True
    #: Serve the gRPC API on its own port (FLX_GRPC_PORT).
    grpc: bool = True
    #: The log level the command chose (FLX_LOG_LEVEL, --verbose, --debug).
    log_level: str = "warning"

    ENV = "FLX_SERVE_OPTIONS"

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        raw = os.environ.get(cls.ENV)
        return cls(**json.loads(raw)) if raw else cls()


def server_app(settings: FlxSettings, options: ServeOptions) -> FastAPI:
    """The application one server process serves: the API over a ``server`` runtime, the
    scheduler and the executor's runs beside it, and the readiness probes."""
    from flx_api import create_app
    from flx_cli.metrics import install_metrics

    async def build() -> Runtime:
        from flx_core.application import ProcessKind
        from flx_core.bootstrap import bootstrap

        # The schema was checked (and SQLite migrated) once, before the workers started.
        return await bootstrap(settings, kind=ProcessKind.SERVER, migrate=False)

    @contextlib.asynccontextmanager
    async def services(runtime: RuntimeLike) -> AsyncIterator[None]:
        # gRPC stops first: no new call reaches runs that are being brought to an end.
        async with (
            beside_the_api(runtime, settings, scheduler=options.scheduler),
            grpc_beside(runtime, settings, enabled=options.grpc),
        ):
            yield

    app: FastAPI = create_app(
        settings, build, services=services, checks=readiness_checks, include_api=options.api
    )
    install_metrics(app, settings)  # /metrics, and the request counts of every route
    if options.web:
        from flx_web import create_web_app

        # Mounted last, at "/": the dashboard gets every path the API does not answer, and
        # the runtime the API's lifespan built (one per process).
        app.mount("/", create_web_app(settings, lambda: app.state.runtime))
    return app


def app_from_environment() -> FastAPI:
    """The application of one uvicorn worker process (``--workers`` > 1): settings from the
    environment the command prepared, the other options from ``FLX_SERVE_OPTIONS``."""
    from flx_core.config import load_settings

    options = ServeOptions.from_env()
    settings = load_settings()
    configure_server_logging(options.log_level, settings.log_format)
    return server_app(settings, options)


class _ToStructlog(logging.Handler):
    """uvicorn's lines (start, stop, access log) rendered as FLX's own logs are."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            structlog.get_logger(record.name).log(
                record.levelno, record.getMessage(), exc_info=record.exc_info or None
            )
        except Exception:
            self.handleError(record)


def configure_server_logging(level: str, fmt: str) -> None:
    """FLX's logging at ``level``, uvicorn's loggers included."""
    from flx_observability import configure_logging

    configure_logging(level, fmt)  # type: ignore[arg-type]
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.handlers = [_ToStructlog()]
    uvicorn.propagate = False


@contextlib.asynccontextmanager
async def beside_the_api(
    runtime: RuntimeLike, settings: FlxSettings, *, scheduler: bool
) -> AsyncIterator[None]:
    """The scheduler while the API serves; on the way out, the scheduler stopped and the
    process's runs brought to an end (see the module's doc)."""
    from flx_meltano import Scheduler

    stop = asyncio.Event()
    firing: asyncio.Task[None] | None = None
    if scheduler:
        firing = asyncio.create_task(
            Scheduler(runtime.app, settings).run(stop), name="flx-scheduler"
        )
    grace = settings.shutdown_grace_seconds
    try:
        yield
    except BaseException:
        # Cancelled (a forced exit): no grace, stop everything now.
        grace = 0.0
        raise
    finally:
        stop.set()
        if firing is not None:
            # The tick under way ends (the scheduler never stops inside a transaction);
            # on a forced exit it was cancelled with everything else.
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await firing
        await end_runs(runtime, grace)


async def end_runs(runtime: RuntimeLike, grace: float) -> None:
    """Cancel the runs of this process that have not started, let the running ones go on
    for ``grace`` seconds, then cancel them; return once every end is recorded."""
    executor: Any = getattr(runtime, "executor", None)
    if executor is None or not getattr(executor, "active", None):
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + grace
    seen: set[str] = set()
    hurry = asyncio.Event()
    with _on_ctrl_c_again(hurry.set):
        log.warning(
            "server_stopping_runs",
            runs=list(executor.active),
            grace_seconds=grace,
            note=f"{SHUTDOWN_REASON}: running executions may finish within the grace, the "
            "others are cancelled; Ctrl-C again cancels them all now",
        )
        while executor.active and loop.time() < deadline and not hurry.is_set():
            fresh = [e for e in executor.active if e not in seen]
            if fresh:
                seen.update(fresh)
                await _cancel_not_started(runtime, executor, fresh)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(hurry.wait(), min(0.2, max(0.0, deadline - loop.time())))
    left = list(executor.active)
    if left:
        log.warning("server_cancelling_runs", runs=left, reason=SHUTDOWN_REASON)
        executor.cancel_all()
    # Waits for each run to record its end (and its processes to be stopped).
    await executor.aclose()


@contextlib.contextmanager
def _on_ctrl_c_again(call: Callable[[], None]) -> Iterator[None]:
    """While the runs have their grace, a second Ctrl-C calls ``call``. SIGINT only: a
    worker of several gets SIGTERM from its parent besides the signal that began the stop
    (a terminal's Ctrl-C, or a service manager signalling the whole group), and that must
    not cut the grace short. Only where signals can be handled: the main thread."""
    loop = asyncio.get_running_loop()
    previous = signal.getsignal(signal.SIGINT)
    try:
        loop.add_signal_handler(signal.SIGINT, call)
        taken = True
    except (RuntimeError, ValueError):
        taken = False  # not the main thread (a server in a test's thread)
    try:
        yield
    finally:
        if taken:
            loop.remove_signal_handler(signal.SIGINT)
            signal.signal(signal.SIGINT, previous)


async def _cancel_not_started(
    runtime: RuntimeLike, executor: Any, execution_ids: list[str]
) -> None:
    """Cancel those of ``execution_ids`` that are still queued: they must not start now."""
    from flx_core.domain import ExecutionStatus

    try:
        async with runtime.app.uow_factory() as uow:
            queued = [
                e
                for e in execution_ids
                if (found := await uow.executions.get(e)) is not None
                and found.status in (ExecutionStatus.PENDING, ExecutionStatus.QUEUED)
            ]
    except Exception:  # the database is away: the grace still bounds the wait
        log.exception("server_stopping_runs_lookup_failed")
        return
    for execution_id in queued:
        executor.cancel(execution_id)


# -- the gRPC API ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def grpc_beside(
    runtime: RuntimeLike, settings: FlxSettings, *, enabled: bool
) -> AsyncIterator[None]:
    """The gRPC API on FLX_GRPC_HOST:FLX_GRPC_PORT while the process serves; its health
    service answers SERVING while every readiness probe passes.

    Every worker process serves it, binding the port with SO_REUSEPORT: the kernel spreads
    the connections over the workers, as the HTTP port's shared socket does. The command
    checked that no other process holds the port (``grpc_port_free``) before starting them.
    """
    if not enabled:
        yield
        return
    from flx_grpc import serve_grpc
    from flx_observability import MetricsServerInterceptor, TracingServerInterceptor, run_checks

    async def ready() -> bool:
        return all(result.ok for result in await run_checks(readiness_checks(runtime)))

    # Outermost first: the call's time in flx_grpc_* includes its span's.
    observed = [MetricsServerInterceptor(), TracingServerInterceptor()]
    async with serve_grpc(
        runtime, settings, ready, interceptors=observed, reuse_port=True
    ) as endpoint:
        log.info("grpc_serving", target=endpoint.target, tls=endpoint.tls)
        yield


def grpc_port_free(settings: FlxSettings) -> None:
    """Refuse to start when another process listens on the gRPC port (the workers bind it
    with SO_REUSEPORT, which would let them share it with that process silently)."""
    host, port = settings.grpc_host, settings.grpc_port
    if port == 0:  # each process takes a free port of its own
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise ServeRefused(
                    f"the gRPC port {port} on {host} is in use (another `flx serve`?): stop "
                    "that process, choose another port with FLX_GRPC_PORT, or serve without "
                    "gRPC (--api-only)"
                ) from None
            raise ServeRefused(
                f"cannot listen for gRPC on {host}:{port}: {exc.strerror or exc}"
            ) from None


# -- readiness ----------------------------------------------------------------------------


def readiness_checks(runtime: RuntimeLike) -> Sequence[ReadinessCheck]:
    """What ``/health/ready`` probes: the database; Redis when FLX_REDIS_URL is set (the
    rate limits live there); the broker when runs go to workers (see ``health_checks``)."""
    from flx_cli.health_checks import readiness_checks as checks

    return checks(runtime)


# -- before the first request ---------------------------------------------------------------


def prepare_database(settings: FlxSettings) -> None:
    """The schema is there and current: migrated now for the embedded SQLite database (once,
    before any worker starts), required for a server database (`flx db upgrade`)."""
    from flx_core.config import mask_url
    from flx_core.infrastructure.persistence import database_url, is_sqlite, is_up_to_date
    from flx_core.infrastructure.private_files import ensure_private_dir

    url = database_url(settings)
    alembic = logging.getLogger("alembic")  # it narrates every step at INFO
    level = alembic.level
    alembic.setLevel(logging.WARNING)
    try:
        if is_sqlite(url):
            from flx_core.bootstrap import ensure_schema

            ensure_private_dir(settings.home_path)
            ensure_schema(url, settings)
            return
        current = is_up_to_date(url)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ServeRefused(
            f"cannot use the database at {mask_url(url)}: {reason.replace(url, mask_url(url))}"
        ) from None
    finally:
        alembic.setLevel(level)
    if not current:
        raise ServeRefused(
            f"the database at {mask_url(url)} is not up to date: run `flx db upgrade` first"
        )


async def has_users(settings: FlxSettings) -> bool:
    """Whether anyone can log in. Building the process once here also creates what every
    worker would otherwise race to create: the signing key, the secret key, the first admin
    of FLX_ADMIN_EMAIL and FLX_ADMIN_PASSWORD."""
    from flx_auth import ListUsers
    from flx_core.application import ProcessKind
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal

    runtime = await bootstrap(settings, kind=ProcessKind.CLI, migrate=False)
    try:
        users = await runtime.app.execute(ListUsers(), principal=Principal.system())
        return bool(users.unwrap())
    finally:
        await runtime.aclose()


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket, bound here so that a port in use is one clear line
    (and so that every worker shares it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ServeRefused(
                f"port {port} on {host} is in use (another `flx serve`?): stop that process "
                "or choose another port with --port or FLX_API_PORT"
            ) from None
        if exc.errno == errno.EACCES:
            raise ServeRefused(
                f"not allowed to listen on port {port} on {host}: choose a port above 1023"
            ) from None
        raise ServeRefused(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    # Listening from now on: the port is this server's (a second one fails above), and
    # early clients wait in the backlog until the application has started.
    sock.listen(BACKLOG)
    sock.set_inheritable(True)
    return sock


def base_url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"

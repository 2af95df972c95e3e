"""`flx worker`: a Celery worker that runs the executions sent to its queues.

The main process consumes the queues and hands each task to a pool child (prefork), one run
per child at a time, ``concurrency`` children. It builds nothing of FLX itself (see
``child``): before forking it only checks the broker and the database schema, with
connections it closes.

Stopping (SIGTERM, or Ctrl-C): the worker stops taking tasks at once (warm shutdown) and
lets its runs go on for ``shutdown_grace`` seconds; runs still going then are stopped: their
tap and target get SIGTERM (SIGKILL after FLX_TERMINATION_GRACE_SECONDS) and they end
``failed`` with the reason "worker shut down ...", so a retry policy takes them up and
nobody waits for a run that no longer goes. Waiting for them without a bound would make the
worker unstoppable during a long sync; dropping them would leave them to the reaper. Give
the process manager's stop timeout room for both graces (e.g. Kubernetes'
``terminationGracePeriodSeconds`` ≥ shutdown grace + FLX_TERMINATION_GRACE_SECONDS + 5).
A second Ctrl-C, or SIGQUIT, is Celery's cold shutdown: runs are stopped at once, and end
failed the same way.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import structlog

from flx_core.config import FlxSettings, mask_url
from flx_core.domain import DomainError
from flx_meltano.distributed.app import make_celery
from flx_meltano.distributed.broker import check_broker
from flx_meltano.distributed.child import BuildRuntime, WorkerChild
from flx_meltano.distributed.executor import TASK_NAME

if TYPE_CHECKING:
    from celery import Celery

log = structlog.get_logger(__name__)

#: How long a task whose database was unreachable waits before it is tried again, and how
#: often: a database restart should not lose the runs sent meanwhile.
RETRY_SECONDS = 10
RETRY_TIMES = 60


class WorkerRefused(DomainError):
    """The worker cannot start with these settings (the message says what to change)."""

    code = "worker_refused"


def worker_name() -> str:
    """Unique per process, so two workers on one host never share a Celery identity."""
    return f"flx@{socket.gethostname()}-{os.getpid()}"


def check_database(settings: FlxSettings) -> None:
    """The schema is there and current: migrated now for the embedded SQLite database (once,
    before the children start), required for a server database (`flx db upgrade`)."""
    from flx_core.infrastructure.persistence import database_url, is_sqlite, is_up_to_date, upgrade
    from flx_core.infrastructure.private_files import ensure_private_dir

    url = database_url(settings)
    # Alembic narrates its every step at INFO: the worker's log is for runs.
    alembic = logging.getLogger("alembic")
    level = alembic.level
    alembic.setLevel(logging.WARNING)
    try:
        if is_sqlite(url):
            ensure_private_dir(settings.home_path)
            if not is_up_to_date(url):
                upgrade(url, settings=settings)
            return
        current = is_up_to_date(url)
    except Exception as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkerRefused(
            f"cannot use the database at {mask_url(url)}: {reason.replace(url, mask_url(url))}"
        ) from None
    finally:
        alembic.setLevel(level)
    if not current:
        raise WorkerRefused(
            f"the database at {mask_url(url)} is not up to date: run `flx db upgrade` first"
        )


def add_run_task(app: Celery, child: WorkerChild) -> None:
    """Register the task that runs an execution in ``child`` (the pool child it lands in)."""

    @app.task(name=TASK_NAME, bind=True, ignore_result=True)  # type: ignore[untyped-decorator]
    def run_execution(task: Any, payload: dict[str, Any]) -> str:
        # Imported in the pool child, after the fork: the multiprocess directory of
        # `flx worker --metrics-port` is in its environment by then.
        from flx_observability import metrics

        metrics.WORKER_RUNS_ACTIVE.inc()
        try:
            status = child.run(payload)
            metrics.WORKER_RUNS.labels(status).inc()
            return status
        except Exception as exc:
            # PipelineRun records every failure of a run itself; what gets here is the
            # database out of reach. Sent again later, the task finds the execution as it
            # is then (a run that started is not started twice).
            log.exception("run_task_failed", execution_id=payload.get("execution_id"))
            raise task.retry(exc=exc, countdown=RETRY_SECONDS, max_retries=RETRY_TIMES) from exc
        finally:
            metrics.WORKER_RUNS_ACTIVE.dec()


class ShutdownGrace:
    """After ``seconds`` of warm shutdown, SIGTERM the pool children that still run."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.worker: Any = None
        self._thread: threading.Thread | None = None

    def begin(self, **_: Any) -> None:
        """Called from the signal handler (Celery's ``worker_shutting_down``): only starts
        the thread that waits, so nothing here can interrupt a write to the log."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._wait_then_stop, daemon=True)
        self._thread.start()

    def _wait_then_stop(self) -> None:
        log.warning("worker_shutting_down", grace_seconds=self.seconds)
        time.sleep(self.seconds)
        self.stop_children()

    def children(self) -> Sequence[int]:
        with contextlib.suppress(Exception):
            return list(self.worker.pool.info.get("processes", []))
        return []

    def stop_children(self) -> None:
        for pid in self.children():
            log.warning("worker_stopping_run", pid=pid)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)


def run_worker(
    settings: FlxSettings,
    build: BuildRuntime,
    *,
    concurrency: int,
    queues: Sequence[str],
    loglevel: str = "info",
    shutdown_grace: float = 10.0,
    hostname: str | None = None,
) -> int:
    """Run a worker until it is stopped; its exit code. ``build`` makes the FLX process of
    each pool child, in that child (with the schema already checked: no migration). Raises
    WorkerRefused or BrokerUnavailable (one line, no password) when it cannot start."""
    from celery import signals

    if settings.executor != "celery" or settings.broker_url is None:
        raise WorkerRefused(
            "flx worker runs the executions of the celery executor: set FLX_EXECUTOR=celery "
            "and FLX_BROKER_URL (amqp:// or redis://)"
        )
    check_broker(settings.broker_url)
    check_database(settings)

    main_pid = os.getpid()
    child = WorkerChild(build)
    grace = ShutdownGrace(shutdown_grace)
    app = make_celery(settings)
    add_run_task(app, child)
    # Celery's signals hold weak references by default: these handlers live as long as
    # the worker, so they are held strongly.
    signals.worker_process_init.connect(lambda **_: child.init_process(main_pid), weak=False)
    signals.worker_process_shutdown.connect(lambda **_: child.close(), weak=False)
    signals.worker_shutting_down.connect(grace.begin, weak=False)

    name = hostname or worker_name()
    worker = app.Worker(
        hostname=name,
        concurrency=concurrency,
        queues=list(queues),
        loglevel=loglevel.upper(),
        pool="prefork",
        optimization="fair",
        without_gossip=True,
        without_mingle=True,
        without_heartbeat=True,
        quiet=True,
    )
    grace.worker = worker
    log.info(
        "worker_started",
        worker=name,
        queues=list(queues),
        concurrency=concurrency,
        broker=mask_url(settings.broker_url),
    )
    worker.start()
    return int(worker.exitcode or 0)

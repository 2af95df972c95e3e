"""The engine's handler table and its module factory (entry point group ``flx.modules``)."""

from __future__ import annotations

from typing import Any

from flx_core.application import ApplicationModule, ProcessKind, Wiring
from flx_core.domain.ports import StateStorePort
from flx_meltano.idempotency import IdempotencyKeyRepository
from flx_meltano.locks import RunLockRepository

handlers = ApplicationModule("meltano", depends_on=("core",))
handlers.sql_repositories[RunLockRepository] = RunLockRepository
handlers.sql_repositories[IdempotencyKeyRepository] = IdempotencyKeyRepository


def state_store(wiring: Wiring) -> StateStorePort:
    """The database store, or files under FLX_HOME (``FLX_STATE_BACKEND=filesystem``, or a
    process without a database)."""
    from flx_meltano.state import DatabaseStateStore, FileStateStore

    settings = wiring.settings
    if settings.state_backend == "filesystem" or wiring.session_factory is None:
        return FileStateStore(settings.home_path / "state", settings.state_retention)
    return DatabaseStateStore(wiring.session_factory, settings.state_retention)


def build_module(wiring: Wiring) -> ApplicationModule:
    """The engine as a process of ``wiring.kind`` needs it: the state store, the log store
    and the executor (local: runs in this process; celery: sends runs to `flx worker`
    processes, and runs them in a worker), given to the handlers that use them."""
    import flx_meltano.application.logs  # noqa: F401  (registration; `logs` names the store)
    from flx_meltano.application import (  # noqa: F401  (registration)
        install_jobs,
        kpis,
        meltano_import,
        metrics,
        plugins,
        runs,
        schedules,
        state,
        streams,
        validation,
    )
    from flx_meltano.logs import log_store
    from flx_meltano.reporting.settled import SettledTotals

    settings = wiring.settings
    store = state_store(wiring)
    logs = log_store(wiring)
    executor: Any
    if settings.executor == "celery":
        from flx_meltano.distributed import CeleryExecutor

        executor = CeleryExecutor(settings, store, logs)
    else:
        from flx_meltano.engine.executor import LocalExecutor

        executor = LocalExecutor(settings, store, logs)
    # Whether this process outlives the runs handed to it: a `flx` command with the local
    # executor ends when its own run does, so runs it did not ask for go elsewhere.
    background = settings.executor != "local" or wiring.kind is not ProcessKind.CLI
    # Install jobs run as tasks of the process that took the request (`flx serve`).
    installs = install_jobs.InstallJobRunner(settings)
    module = handlers.with_dependencies(
        settings=settings,
        store=store,
        logs=logs,
        executor=executor,
        background=background,
        install_jobs=installs,
        settled_totals=SettledTotals(),
    )
    module.executor = executor
    module.on_start.extend([executor.attach, installs.attach])
    module.closers.extend([executor.aclose, installs.aclose])
    return module

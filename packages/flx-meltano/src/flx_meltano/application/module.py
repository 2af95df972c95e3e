"""The engine's handler table and its module factory (entry point group ``flx.modules``)."""

from __future__ import annotations

from flx_core.application import ApplicationModule, Wiring
from flx_core.domain.ports import StateStorePort
from flx_meltano.locks import RunLockRepository

handlers = ApplicationModule("meltano", depends_on=("core",))
handlers.sql_repositories[RunLockRepository] = RunLockRepository


def state_store(wiring: Wiring) -> StateStorePort:
    """The database store, or files under FLX_HOME (``FLX_STATE_BACKEND=filesystem``, or a
    process without a database)."""
    from flx_meltano.state import DatabaseStateStore, FileStateStore

    settings = wiring.settings
    if settings.state_backend == "filesystem" or wiring.session_factory is None:
        return FileStateStore(settings.home_path / "state", settings.state_retention)
    return DatabaseStateStore(wiring.session_factory, settings.state_retention)


def build_module(wiring: Wiring) -> ApplicationModule:
    """The engine as a process of ``wiring.kind`` needs it: the state store and the local
    executor, given to the handlers that use them."""
    from flx_meltano.application import plugins, runs, state, streams  # noqa: F401  (registration)
    from flx_meltano.engine.executor import LocalExecutor

    store = state_store(wiring)
    executor = LocalExecutor(wiring.settings, store)
    module = handlers.with_dependencies(settings=wiring.settings, store=store, executor=executor)
    module.executor = executor
    module.on_start.append(executor.attach)
    module.closers.append(executor.aclose)
    return module

"""The engine's application module: wires the state store and the executor at start."""

from __future__ import annotations

from flx_core.application import Application, ApplicationModule
from flx_core.bootstrap import Runtime
from flx_core.config import FlxSettings
from flx_core.domain.ports import StateStorePort
from flx_meltano.locks import RunLockRepository

module = ApplicationModule("meltano", depends_on=("core",))
module.sql_repositories[RunLockRepository] = RunLockRepository


@module.startup
def provide_adapters(app: Application) -> None:
    from flx_meltano.state import DatabaseStateStore, FileStateStore

    settings = app.services.get(FlxSettings)
    runtime = app.services.find(Runtime)
    store: StateStorePort
    if settings.state_backend == "filesystem" or runtime is None or runtime.session_factory is None:
        store = FileStateStore(settings.home_path / "state", settings.state_retention)
    else:
        store = DatabaseStateStore(runtime.session_factory, settings.state_retention)
    if StateStorePort not in app.services:  # type: ignore[type-abstract]
        app.services.provide(StateStorePort, store)  # type: ignore[type-abstract]
    from flx_meltano.engine.executor import LocalExecutor

    if LocalExecutor not in app.services:
        app.services.provide(LocalExecutor, LocalExecutor(app))

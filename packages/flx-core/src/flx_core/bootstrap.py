"""The composition root of every FLX process: settings, database, buses, and the contexts.

Reading this file tells what a process is made of. ``bootstrap(kind)`` builds one kind of
process (see ``ProcessKind``): it opens the database, then calls the module factory of each
bounded context that kind contains (``PROCESS_CONTEXTS``; factories are found by name in the
entry point group ``flx.modules``, since the core cannot import the contexts built on it).
Each factory takes a ``Wiring`` (the kind, the settings, the session factory, the clock) and
returns an ``ApplicationModule`` whose handlers have their collaborators bound; nothing is
looked up later. Tests pass their own unit-of-work factory, clock or modules.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from flx_core.application import (
    Application,
    ApplicationModule,
    ProcessKind,
    Wiring,
    core_module,
)
from flx_core.config import FlxSettings, load_settings
from flx_core.domain.ports import Clock, ExecutorPort, SystemClock, UnitOfWork
from flx_core.infrastructure.persistence import (
    SqlUnitOfWork,
    database_url,
    is_sqlite,
    is_up_to_date,
    make_engine,
    make_session_factory,
    upgrade,
)
from flx_core.infrastructure.private_files import ensure_private_dir
from flx_core.infrastructure.secret_cipher import secret_cipher

ModuleFactory = Callable[[Wiring], ApplicationModule]

#: The bounded contexts each kind of process is built from (core is always first).
#: auth: users, tokens, roles; plugin: extensions; meltano: the engine (executor, state);
#: observability: the process's tracer provider and a span around each command and query.
PROCESS_CONTEXTS: dict[ProcessKind, tuple[str, ...]] = {
    ProcessKind.CLI: ("observability", "auth", "plugin", "meltano"),
    ProcessKind.SERVER: ("observability", "auth", "plugin", "meltano"),
    ProcessKind.WORKER: ("observability", "plugin", "meltano"),
    ProcessKind.SCHEDULER: ("observability", "meltano"),
}


def module_factories() -> dict[str, ModuleFactory]:
    """The module factories installed packages contribute (group ``flx.modules``).

    Read once per process: reading the entry points of every installed distribution again
    would cost each command in a warm process.
    """
    if not _factories:
        for ep in entry_points(group="flx.modules"):
            _factories[ep.name] = ep.load()
    return dict(_factories)


_factories: dict[str, ModuleFactory] = {}


def build_modules(
    kind: ProcessKind, wiring: Wiring, exclude: Collection[str] = ()
) -> list[ApplicationModule]:
    """The core module and the modules of the contexts ``kind`` contains that are installed
    (less those in ``exclude``)."""
    factories = module_factories()
    names = [n for n in PROCESS_CONTEXTS[kind] if n in factories and n not in exclude]
    return [core_module] + [factories[name](wiring) for name in names]


def ensure_schema(url: str, settings: FlxSettings | None = None) -> None:
    """Migrate the database to the latest revision of every history, if it is not there
    (the settings give a migration the key to encrypt stored secrets with)."""
    if not is_up_to_date(url):
        upgrade(url, settings=settings)


@dataclass
class Runtime:
    """A built process: its settings, its application (the buses) and what to close."""

    kind: ProcessKind
    settings: FlxSettings
    app: Application
    engine: AsyncEngine | None
    session_factory: async_sessionmaker[Any] | None
    url: str
    #: Starts and cancels runs (None in a process without the engine).
    executor: ExecutorPort | None = None
    closers: list[Callable[[], Any]] = field(default_factory=list)

    async def aclose(self) -> None:
        for close in reversed(self.closers):
            result = close()
            if hasattr(result, "__await__"):
                await result
        if self.engine is not None:
            await self.engine.dispose()


async def bootstrap(
    settings: FlxSettings | None = None,
    *,
    kind: ProcessKind = ProcessKind.CLI,
    modules: Iterable[ApplicationModule] | None = None,
    exclude: Collection[str] = (),
    uow_factory: Callable[[], UnitOfWork] | None = None,
    clock: Clock | None = None,
    migrate: bool | None = None,
) -> Runtime:
    settings = settings or load_settings()
    clock = clock or SystemClock()
    url = database_url(settings)
    engine = session_factory = None
    if uow_factory is None:
        if migrate if migrate is not None else is_sqlite(url):
            ensure_private_dir(settings.home_path)
            ensure_schema(url, settings)
        engine = make_engine(url)
        session_factory = make_session_factory(engine)
    wiring = Wiring(kind=kind, settings=settings, session_factory=session_factory, clock=clock)
    mods = list(modules) if modules is not None else build_modules(kind, wiring, exclude)
    if uow_factory is None:
        assert session_factory is not None
        factory = session_factory
        repositories: dict[type[Any], Callable[[Any], Any]] = {}
        for module in mods:
            repositories.update(module.sql_repositories)

        def uow_factory() -> UnitOfWork:
            return SqlUnitOfWork(factory, repositories, cipher=secret_cipher(settings))

    app = Application(uow_factory, clock=clock)
    executors = [m.executor for m in mods if m.executor is not None]
    runtime = Runtime(
        kind, settings, app, engine, session_factory, url, executors[0] if executors else None
    )
    for module in mods:
        runtime.closers.extend(module.closers)
    try:
        app.include(mods)
        await app.start()
    except BaseException:
        await runtime.aclose()
        raise
    return runtime

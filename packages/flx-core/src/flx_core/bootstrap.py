"""The composition root shared by every FLX process: settings, database, buses, modules.

Adapters (CLI, API, gRPC, web, workers) call :func:`bootstrap` once and get a
:class:`Runtime`; tests pass their own unit-of-work factory, clock or modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from flx_core.application import Application, ApplicationModule, ServiceRegistry, core_module
from flx_core.config import FlxSettings, load_settings
from flx_core.domain.ports import Clock, UnitOfWork
from flx_core.infrastructure.persistence import (
    SqlUnitOfWork,
    database_url,
    is_sqlite,
    is_up_to_date,
    make_engine,
    make_session_factory,
    upgrade,
)


def discover_modules() -> list[ApplicationModule]:
    """The core module and those installed packages contribute (group ``flx.modules``).

    Read once per process: a module is imported once anyway, and reading the entry points
    of every installed distribution again would cost each run in a warm process.
    """
    if not _discovered:
        modules = [core_module]
        for ep in entry_points(group="flx.modules"):
            module = ep.load()
            modules.append(module() if callable(module) else module)
        _discovered.extend(modules)
    return list(_discovered)


_discovered: list[ApplicationModule] = []


def ensure_schema(url: str) -> None:
    """Migrate the database to the latest revision of every history, if it is not there."""
    if not is_up_to_date(url):
        upgrade(url)


@dataclass
class Runtime:
    settings: FlxSettings
    app: Application
    engine: AsyncEngine | None
    session_factory: async_sessionmaker[Any] | None
    url: str
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
    modules: Iterable[ApplicationModule] | None = None,
    uow_factory: Callable[[], UnitOfWork] | None = None,
    clock: Clock | None = None,
    services: ServiceRegistry | None = None,
    migrate: bool | None = None,
) -> Runtime:
    settings = settings or load_settings()
    mods = list(modules) if modules is not None else discover_modules()
    url = database_url(settings)
    engine = session_factory = None
    if uow_factory is None:
        if migrate if migrate is not None else is_sqlite(url):
            settings.home_path.mkdir(parents=True, exist_ok=True)
            ensure_schema(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        session_factory = factory
        extra: dict[type[Any], Callable[[Any], Any]] = {}
        for module in mods:
            extra.update(module.sql_repositories)

        def uow_factory() -> UnitOfWork:
            return SqlUnitOfWork(factory, extra)

    registry = services or ServiceRegistry()
    registry.provide(FlxSettings, settings)
    app = Application(uow_factory, clock=clock, services=registry)
    runtime = Runtime(settings, app, engine, session_factory, url)
    registry.provide(Runtime, runtime)
    try:
        app.include(mods)
        await app.start()
    except BaseException:
        await runtime.aclose()
        raise
    return runtime

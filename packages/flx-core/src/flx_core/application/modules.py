"""Bounded-context modules: each declares its handlers and the modules it depends on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from typing import TYPE_CHECKING, Any, TypeVar

from flx_core.application.messages import Command, Query
from flx_core.domain.pydantic_base import DomainEvent, ServiceResult

if TYPE_CHECKING:
    from flx_core.application.bus import Application
    from flx_core.application.context import HandlerContext

M = TypeVar("M")
Handler = Callable[[Any, "HandlerContext"], Awaitable[ServiceResult[Any]]]
EventHandler = Callable[[Any, "HandlerContext"], Awaitable[None]]
F = TypeVar("F", bound=Callable[..., Any])

#: The initialization order of the original specification, used to break ties.
CANONICAL_ORDER = (
    "core",
    "auth",
    "observability",
    "plugin",
    "grpc",
    "api",
    "web",
    "cli",
    "meltano",
)


@dataclass
class ApplicationModule:
    """Handlers of one bounded context. ``on_start`` runs when the application starts."""

    name: str
    depends_on: tuple[str, ...] = ()
    commands: dict[type[Command], Handler] = field(default_factory=dict)
    queries: dict[type[Query], Handler] = field(default_factory=dict)
    events: list[tuple[type[DomainEvent], EventHandler]] = field(default_factory=list)
    on_start: list[Callable[[Application], Any]] = field(default_factory=list)
    #: Repositories this context adds to the SQL unit of work: port -> factory(session).
    sql_repositories: dict[type[Any], Callable[[Any], Any]] = field(default_factory=dict)

    def command(self, command_type: type[Command]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if command_type in self.commands:
                raise ValueError(f"{self.name}: {command_type.__name__} already has a handler")
            self.commands[command_type] = fn
            return fn

        return register

    def query(self, query_type: type[Query]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            if query_type in self.queries:
                raise ValueError(f"{self.name}: {query_type.__name__} already has a handler")
            self.queries[query_type] = fn
            return fn

        return register

    def on(self, event_type: type[DomainEvent]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.events.append((event_type, fn))
            return fn

        return register

    def startup(self, fn: F) -> F:
        self.on_start.append(fn)
        return fn


def initialization_order(modules: Iterable[ApplicationModule]) -> list[ApplicationModule]:
    """Modules sorted so that each comes after those it depends on.

    Raises ValueError naming a missing dependency or the members of a cycle.
    """
    by_name = {m.name: m for m in modules}
    sorter: TopologicalSorter[str] = TopologicalSorter()
    for module in by_name.values():
        for dep in module.depends_on:
            if dep not in by_name:
                raise ValueError(f"module {module.name!r} depends on unknown module {dep!r}")
        sorter.add(module.name, *module.depends_on)
    try:
        sorter.prepare()
    except CycleError as exc:
        raise ValueError(f"module dependency cycle: {' -> '.join(exc.args[1])}") from None
    order: list[str] = []
    rank = {name: i for i, name in enumerate(CANONICAL_ORDER)}
    while sorter.is_active():
        ready = sorted(sorter.get_ready(), key=lambda n: (rank.get(n, len(rank)), n))
        order.extend(ready)
        sorter.done(*ready)
    return [by_name[n] for n in order]

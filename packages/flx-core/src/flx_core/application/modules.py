"""Bounded-context modules: each declares its handlers and the modules it depends on.

A context writes its handlers once, at import time, on an ``ApplicationModule`` (the handler
table); a handler names the collaborators it needs as keyword parameters after the message
and the context. The context's factory (entry point group ``flx.modules``) then builds the
collaborators from the settings and returns ``handlers.with_dependencies(name=adapter, ...)``:
a module whose handlers have them bound, as cosmicpython's ``bootstrap`` injects them.
Nothing is looked up while a message is handled.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field, replace
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
#: Runs after a successful command handler and before the commit: (message, value, ctx).
Check = Callable[[Any, Any, "HandlerContext"], Awaitable[None]]
#: Wraps the handling of every command and query: (message, handle) -> handle()'s result,
#: with whatever it does around it (a span, a timer). ``handle`` checks the permission,
#: runs the handler and commits.
Middleware = Callable[
    [Any, Callable[[], Awaitable[ServiceResult[Any]]]], Awaitable[ServiceResult[Any]]
]
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
    """Handlers of one bounded context and what its process needs of it.

    ``on_start`` hooks run when the application starts; ``closers`` when the process shuts
    down; ``checks`` after a command's handler succeeded, inside its transaction (raising a
    DomainError refuses the command); ``middleware`` around the handling of every command
    and query of the process, in module order (the first is outermost); ``executor`` is the
    ExecutorPort the context gives the process, if any.
    """

    name: str
    depends_on: tuple[str, ...] = ()
    commands: dict[type[Command], Handler] = field(default_factory=dict)
    queries: dict[type[Query], Handler] = field(default_factory=dict)
    events: list[tuple[type[DomainEvent], EventHandler]] = field(default_factory=list)
    on_start: list[Callable[[Application], Any]] = field(default_factory=list)
    #: Repositories this context adds to the SQL unit of work: port -> factory(session).
    sql_repositories: dict[type[Any], Callable[[Any], Any]] = field(default_factory=dict)
    checks: list[tuple[type[Command], Check]] = field(default_factory=list)
    closers: list[Callable[[], Any]] = field(default_factory=list)
    middleware: list[Middleware] = field(default_factory=list)
    executor: Any = None

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

    def check(self, *command_types: type[Command]) -> Callable[[F], F]:
        def register(fn: F) -> F:
            self.checks.extend((t, fn) for t in command_types)
            return fn

        return register

    def with_dependencies(self, **dependencies: Any) -> ApplicationModule:
        """A copy whose handlers, event handlers and checks get ``dependencies`` by name.

        Raises ValueError when a handler needs a collaborator that is not given, so a
        process that lacks one fails when it is built, not when the message arrives.
        """

        def bind(fn: Any) -> Any:
            return inject(fn, dependencies, self.name)

        return replace(
            self,
            commands={k: bind(v) for k, v in self.commands.items()},
            queries={k: bind(v) for k, v in self.queries.items()},
            events=[(k, bind(v)) for k, v in self.events],
            checks=[(k, bind(v)) for k, v in self.checks],
            on_start=list(self.on_start),
            sql_repositories=dict(self.sql_repositories),
            closers=list(self.closers),
            middleware=list(self.middleware),
        )


def inject(fn: Callable[..., Any], dependencies: dict[str, Any], owner: str) -> Any:
    """``fn`` with the keyword parameters it names taken from ``dependencies``."""
    wanted: dict[str, Any] = {}
    for name, param in inspect.signature(fn).parameters.items():
        if param.kind is not inspect.Parameter.KEYWORD_ONLY:
            continue
        if name in dependencies:
            wanted[name] = dependencies[name]
        elif param.default is inspect.Parameter.empty:
            raise ValueError(
                f"module {owner!r}: {fn.__qualname__} needs {name!r}, which its factory "
                "does not give"
            )
    if not wanted:
        return fn
    bound = functools.partial(fn, **wanted)
    functools.update_wrapper(bound, fn)
    return bound


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

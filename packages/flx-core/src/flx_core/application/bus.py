"""The application: command, query and event buses over the registered module handlers.

Every command and query carries the permission it needs; the bus checks the caller's
principal before the handler runs, so no adapter can forget the check. A command runs in one
unit of work, committed when the handler succeeds; the events its aggregates recorded are
dispatched after the commit, and an event handler's failure is logged, never propagated.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeVar

import structlog
from pydantic import ValidationError

from flx_core.application.context import HandlerContext
from flx_core.application.errors import failure_from
from flx_core.application.messages import Command, Message, Query
from flx_core.application.modules import (
    ApplicationModule,
    Check,
    EventHandler,
    Handler,
    Middleware,
    initialization_order,
)
from flx_core.domain.errors import DomainError
from flx_core.domain.ports import Clock, SystemClock, UnitOfWork
from flx_core.domain.pydantic_base import DomainEvent, ServiceResult
from flx_core.domain.security import Principal

log = structlog.get_logger(__name__)
T = TypeVar("T")


@dataclass
class Registration:
    """A handler registered at run time; ``remove()`` takes it off the bus again."""

    remove: Callable[[], None]


class Application:
    def __init__(
        self,
        uow_factory: Callable[[], UnitOfWork],
        *,
        clock: Clock | None = None,
    ) -> None:
        self.uow_factory = uow_factory
        self.clock: Clock = clock or SystemClock()
        self._commands: dict[type[Message], Handler] = {}
        self._checks: dict[type[Message], list[Check]] = {}
        self._queries: dict[type[Message], Handler] = {}
        self._events: list[tuple[type[DomainEvent], EventHandler]] = []
        self._middleware: list[Middleware] = []
        self.modules: list[ApplicationModule] = []
        self.commands = CommandBus(self)
        self.queries = QueryBus(self)
        self.events = EventBus(self)

    # -- registration -------------------------------------------------------------------
    def include(self, modules: Iterable[ApplicationModule]) -> None:
        """Register modules in dependency order (missing dependency or cycle: ValueError)."""
        ordered = initialization_order([*self.modules, *modules])
        known = {m.name for m in self.modules}
        for module in ordered:
            if module.name in known:
                continue
            for cmd, command_handler in module.commands.items():
                self.register_command(cmd, command_handler)
            for qry, query_handler in module.queries.items():
                self.register_query(qry, query_handler)
            for evt, event_handler in module.events:
                self.subscribe(evt, event_handler)
            for checked, check in module.checks:
                self._checks.setdefault(checked, []).append(check)
            self._middleware.extend(module.middleware)
            self.modules.append(module)

    def register_command(self, command_type: type[Command], handler: Handler) -> Registration:
        return self._register(self._commands, command_type, handler)

    def register_query(self, query_type: type[Query], handler: Handler) -> Registration:
        return self._register(self._queries, query_type, handler)

    def _register(
        self, table: dict[type[Message], Handler], key: type[Message], handler: Handler
    ) -> Registration:
        if key in table:
            raise ValueError(f"{key.__name__} already has a handler")
        table[key] = handler

        def remove() -> None:
            if table.get(key) is handler:
                del table[key]

        return Registration(remove)

    def subscribe(self, event_type: type[DomainEvent], handler: EventHandler) -> Registration:
        entry = (event_type, handler)
        self._events.append(entry)

        def remove() -> None:
            if entry in self._events:
                self._events.remove(entry)

        return Registration(remove)

    def handles(self, message_type: type[Message]) -> bool:
        return message_type in self._commands or message_type in self._queries

    async def start(self) -> None:
        for module in self.modules:
            for hook in module.on_start:
                result = hook(self)
                if hasattr(result, "__await__"):
                    await result

    # -- dispatch ------------------------------------------------------------------------
    def _context(self, principal: Principal, uow: UnitOfWork) -> HandlerContext:
        return HandlerContext(
            principal=principal,
            uow=uow,
            clock=self.clock,
            app=self,
            uow_factory=self.uow_factory,
        )

    def _authorize(self, message: Message, principal: Principal) -> ServiceResult[Any] | None:
        needed = type(message).permission
        if needed is None or principal.can(needed):
            return None
        log.info("permission_denied", subject=principal.subject, message=type(message).__name__)
        return ServiceResult.failure(
            f"permission denied: {principal.subject} lacks {needed.value} "
            f"(needed for {type(message).__name__})",
            "permission_denied",
            {"permission": needed.value},
        )

    async def execute(self, message: Message, *, principal: Principal) -> ServiceResult[Any]:
        """Handle a command or query, through the modules' middleware."""

        async def handle() -> ServiceResult[Any]:
            return await self._handle(message, principal)

        call: Callable[[], Awaitable[ServiceResult[Any]]] = handle
        for middleware in reversed(self._middleware):
            call = _wrapped(middleware, message, call)
        return await call()

    async def _handle(self, message: Message, principal: Principal) -> ServiceResult[Any]:
        is_command = isinstance(message, Command)
        table = self._commands if is_command else self._queries
        handler = table.get(type(message))
        if handler is None:
            return ServiceResult.failure(f"no handler for {type(message).__name__}", "no_handler")
        denied = self._authorize(message, principal)
        if denied is not None:
            return denied
        uow = self.uow_factory()
        uow.actor = principal.subject
        events: list[DomainEvent] = []
        ctx = self._context(principal, uow)
        async with uow:
            try:
                result = await handler(message, ctx)
                if is_command and result.ok:
                    for check in self._checks.get(type(message), ()):
                        await check(message, result.value, ctx)
            except (DomainError, ValidationError) as exc:
                return failure_from(exc)
            if is_command and result.ok:
                try:
                    await uow.commit()
                except DomainError as exc:
                    return failure_from(exc)
                events = uow.collect_new_events()
        if is_command and result.ok:
            for callback in ctx.committed:
                done = callback()
                if hasattr(done, "__await__"):
                    await done
        for event in events:
            await self.publish(event, principal=principal)
        return result

    async def publish(self, event: DomainEvent, *, principal: Principal | None = None) -> None:
        who = principal or Principal.system()
        for event_type, handler in list(self._events):
            if not isinstance(event, event_type):
                continue
            uow = self.uow_factory()
            uow.actor = who.subject
            try:
                async with uow:
                    await handler(event, self._context(who, uow))
                    await uow.commit()
                    more = uow.collect_new_events()
            except Exception:
                log.exception(
                    "event_handler_failed",
                    event_type=type(event).__name__,
                    handler=getattr(handler, "__qualname__", repr(handler)),
                )
                continue
            for follow_up in more:
                await self.publish(follow_up, principal=who)


def _wrapped(
    middleware: Middleware, message: Message, inner: Callable[[], Awaitable[ServiceResult[Any]]]
) -> Callable[[], Awaitable[ServiceResult[Any]]]:
    async def call() -> ServiceResult[Any]:
        return await middleware(message, inner)

    return call


class CommandBus:
    def __init__(self, app: Application) -> None:
        self._app = app

    async def execute(self, command: Command, *, principal: Principal) -> ServiceResult[Any]:
        return await self._app.execute(command, principal=principal)


class QueryBus:
    def __init__(self, app: Application) -> None:
        self._app = app

    async def execute(self, query: Query, *, principal: Principal) -> ServiceResult[Any]:
        return await self._app.execute(query, principal=principal)


class EventBus:
    """Publishes domain events to subscribers (the EventBusPort of the domain)."""

    def __init__(self, app: Application) -> None:
        self._app = app

    async def publish(self, event: DomainEvent) -> None:
        await self._app.publish(event)

    def subscribe(self, event_type: type[DomainEvent], handler: EventHandler) -> Registration:
        return self._app.subscribe(event_type, handler)

"""What a handler receives besides its message: the caller, a unit of work, the services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar, cast

from flx_core.domain.ports import Clock, UnitOfWork
from flx_core.domain.security import Principal

if TYPE_CHECKING:
    from flx_core.application.bus import Application

T = TypeVar("T")


class ServiceRegistry:
    """A small typed registry of adapters keyed by their port (dependency injection by type)."""

    def __init__(self) -> None:
        self._services: dict[type[Any], Any] = {}

    def provide(self, port: type[T], implementation: T) -> None:
        self._services[port] = implementation

    def get(self, port: type[T]) -> T:
        try:
            return cast(T, self._services[port])
        except KeyError:
            raise LookupError(f"no adapter provided for {port.__name__}") from None

    def find(self, port: type[T]) -> T | None:
        return cast("T | None", self._services.get(port))

    def __contains__(self, port: type[Any]) -> bool:
        return port in self._services


@dataclass
class HandlerContext:
    principal: Principal
    uow: UnitOfWork
    clock: Clock
    services: ServiceRegistry
    app: Application
    uow_factory: Callable[[], UnitOfWork]
    extra: dict[str, Any] = field(default_factory=dict)

    def get(self, port: type[T]) -> T:
        return self.services.get(port)

"""What a handler receives besides its message: the caller, a unit of work, the clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flx_core.domain.ports import Clock, UnitOfWork
from flx_core.domain.security import Principal

if TYPE_CHECKING:
    from flx_core.application.bus import Application


@dataclass
class HandlerContext:
    """The caller and the transaction of one message.

    Collaborators (settings, stores, executors) are not here: a handler names them as
    keyword parameters and its module's factory binds them (see ``ApplicationModule``).
    """

    principal: Principal
    uow: UnitOfWork
    clock: Clock
    app: Application
    uow_factory: Callable[[], UnitOfWork]
    #: Called after the command's transaction committed, before its events are dispatched.
    committed: list[Callable[[], Any]] = field(default_factory=list)

    def after_commit(self, callback: Callable[[], Any]) -> None:
        """Run ``callback`` once the command's changes are committed (never on failure)."""
        self.committed.append(callback)

"""Sending messages on the bus as the signed-in user.

Views ask the application layer, as the REST routes do: one message, one ``ServiceResult``.
The permission check is the bus's; a refused or failed message becomes :class:`Refused`,
which the views turn into a form error or an error page.
"""

from __future__ import annotations

from typing import Any

from flx_core.application import Application, Message
from flx_core.domain import Permission, Principal, ServiceResult

#: The HTTP status of an error page for each error code of a failed result (else 400).
STATUS_BY_CODE: dict[str, int] = {
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "already_exists": 409,
    "conflict": 409,
    "invalid_transition": 409,
    "already_running": 409,
    "already_fired": 409,
    "invalid": 422,
    "discovery_failed": 424,
    "rate_limited": 429,
    "broker_unavailable": 503,
    "worker_refused": 503,
}


class Refused(Exception):
    """A message the bus refused or that failed: its code and one-line message."""

    def __init__(self, result: ServiceResult[Any]) -> None:
        self.code = result.error_code or "error"
        self.message = result.message or self.code
        self.details = dict(result.details)
        super().__init__(self.message)

    @property
    def status(self) -> int:
        return STATUS_BY_CODE.get(self.code, 400)


class Caller:
    """The signed-in user of a request: who they are and a way to send messages as them."""

    #: Templates read its attributes; they must not call it.
    do_not_call_in_templates = True

    def __init__(self, app: Application, principal: Principal, email: str) -> None:
        self.app = app
        self.principal = principal
        self.email = email

    async def __call__(self, message: Message) -> Any:
        """The value of the message's result; :class:`Refused` if it failed."""
        result = await self.app.execute(message, principal=self.principal)
        if not result.ok:
            raise Refused(result)
        return result.value

    def can(self, permission: Permission | str) -> bool:
        """Whether to show a control: the bus decides whether the action is allowed."""
        return self.principal.can(Permission(permission))

    @property
    def roles(self) -> list[str]:
        return sorted(self.principal.roles)

    @property
    def is_admin(self) -> bool:
        return self.can(Permission.USER_MANAGE)

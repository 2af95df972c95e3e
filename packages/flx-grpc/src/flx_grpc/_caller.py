"""The caller of a call: who they are, and the bus they send messages on.

The authentication interceptor puts the caller in a context variable before the servicer
runs; a servicer reads it with ``current()``. The permission check is the bus's, so a
servicer never checks roles itself.
"""

from __future__ import annotations

import asyncio
import time
from contextvars import ContextVar
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from flx_auth import TokenRejected, authenticate
from flx_core.application import Application, Message
from flx_core.domain import DomainError, Principal
from flx_grpc._errors import RpcFailure, failure_for, invalid_input

#: How often a stream checks its caller's token again: a stream outlives the token's check
#: at its start, and ends when the token expires or is revoked or the user is disabled.
RECHECK_SECONDS = 60.0
#: The longest one bus call of a stream's poll may take (it is not cut in the middle).
QUERY_SECONDS = 30.0

T = TypeVar("T", bound=BaseModel)


class Caller:
    """Sends messages on the bus as the caller; a failure is raised as ``RpcFailure``."""

    def __init__(self, app: Application, principal: Principal, token: str | None = None) -> None:
        self.app = app
        self.principal = principal
        self._token = token
        self._checked = time.monotonic()

    async def __call__(self, message: Message) -> Any:
        result = await self.app.execute(message, principal=self.principal)
        if not result.ok:
            raise failure_for(result)
        return result.value

    async def ask(self, message: Message) -> Any:
        """One poll of a stream: the token checked again when due, and the call shielded
        from the client's leaving so that its transaction ends normally."""
        await self._recheck()
        return await asyncio.wait_for(asyncio.shield(self(message)), QUERY_SECONDS)

    async def _recheck(self) -> None:
        if self._token is None or time.monotonic() - self._checked < RECHECK_SECONDS:
            return
        self.principal = await principal_of(self.app, self._token)
        self._checked = time.monotonic()


async def principal_of(app: Application, token: str) -> Principal:
    """The principal of a bearer token; ``RpcFailure`` (UNAUTHENTICATED) with the reason."""
    try:
        return await authenticate(app, token)
    except TokenRejected as exc:
        raise RpcFailure(
            "unauthenticated", exc.message, details={"reason": exc.reason.value}
        ) from None
    except DomainError as exc:
        raise RpcFailure("unauthenticated", exc.message) from None


def build(cls: type[T], /, **fields: Any) -> T:
    """A bus message from a request's fields; bad values are INVALID_ARGUMENT naming them."""
    try:
        return cls(**fields)
    except ValidationError as exc:
        raise invalid_input(exc) from None


_CALLER: ContextVar[Caller | None] = ContextVar("flx_grpc_caller", default=None)
_REQUEST_ID: ContextVar[str | None] = ContextVar("flx_grpc_request_id", default=None)


def current() -> Caller:
    caller = _CALLER.get()
    if caller is None:  # a method left out of authentication by mistake
        raise RpcFailure("unauthenticated", "this method needs a bearer token")
    return caller


def set_caller(caller: Caller | None) -> None:
    _CALLER.set(caller)


def request_id() -> str | None:
    return _REQUEST_ID.get()


def set_request_id(value: str | None) -> None:
    _REQUEST_ID.set(value)

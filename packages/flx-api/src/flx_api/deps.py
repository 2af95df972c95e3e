"""The vocabulary of the routes' dependencies: the caller, the bus, request headers.

A route names what it needs (``bus: Bus``, ``principal: CurrentPrincipal``) and gets it
here; the permission check is the bus's, so a route never checks roles itself.
"""

from __future__ import annotations

from typing import Annotated, Any, Protocol

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from flx_api.problems import ApiProblem, problem_for
from flx_auth import TokenRejected, authenticate
from flx_core.application import Application, Message
from flx_core.config import FlxSettings
from flx_core.domain import DomainError, Principal


class RuntimeLike(Protocol):
    """What the API needs of a built process (``flx_core.bootstrap.Runtime`` is one)."""

    app: Application
    settings: FlxSettings

    async def aclose(self) -> None: ...


def runtime_of(request: Request) -> RuntimeLike:
    runtime: RuntimeLike | None = getattr(request.app.state, "runtime", None)
    if runtime is None:
        raise ApiProblem(503, "starting", "the server is starting; retry in a moment")
    return runtime


def get_application(request: Request) -> Application:
    return runtime_of(request).app


AppDep = Annotated[Application, Depends(get_application)]

_bearer = HTTPBearer(auto_error=False, description="An access token from POST /api/v1/auth/login")


async def current_principal(
    request: Request,
    app: AppDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    """The caller of a protected route; 401 with the reason when the token is missing,
    malformed, expired, revoked or its user disabled."""
    challenge = {"WWW-Authenticate": "Bearer"}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise ApiProblem(
            401,
            "unauthenticated",
            "missing bearer token (Authorization: Bearer <token>)",
            headers=challenge,
        )
    try:
        principal = await authenticate(app, credentials.credentials)
    except TokenRejected as exc:
        raise ApiProblem(
            401,
            "unauthenticated",
            exc.message,
            details={"reason": exc.reason.value},
            headers={"WWW-Authenticate": f'Bearer error="invalid_token", reason="{exc.reason}"'},
        ) from None
    except DomainError as exc:
        raise ApiProblem(401, "unauthenticated", exc.message, headers=challenge) from None
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


class Dispatcher:
    """Sends messages on the bus as the caller; a failure becomes its problem response."""

    def __init__(self, app: Application, principal: Principal) -> None:
        self.app = app
        self.principal = principal

    async def __call__(self, message: Message) -> Any:
        result = await self.app.execute(message, principal=self.principal)
        if not result.ok:
            raise problem_for(result)
        return result.value

    async def result(self, message: Message) -> Any:
        """The ServiceResult itself (for routes that map a failure specially)."""
        return await self.app.execute(message, principal=self.principal)


def get_bus(app: AppDep, principal: CurrentPrincipal) -> Dispatcher:
    return Dispatcher(app, principal)


def get_public_bus(app: AppDep) -> Dispatcher:
    """The bus for routes without a token (login, refresh): the anonymous principal."""
    return Dispatcher(app, Principal.anonymous())


Bus = Annotated[Dispatcher, Depends(get_bus)]
PublicBus = Annotated[Dispatcher, Depends(get_public_bus)]


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]

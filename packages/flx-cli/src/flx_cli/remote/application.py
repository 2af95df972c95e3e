"""The application of a remote CLI: each message a command sends, as its REST call.

Commands send the same messages whether FLX runs in this process or on a server; here
``execute(message)`` looks the message's class up in one table (``ROUTES``), makes the call
it names (method, path filled from the message's fields, body, query, headers) and turns
the answer into the value the local handler returns (a ``Pipeline``, a ``Page``...), so a
command prints the same either way. A problem answer becomes a failed ``ServiceResult``
with the server's message and code. The caller's identity is the stored token's, not the
``principal`` argument.

A message with no meaning on a server (``ReapDeadExecutions``: the server reaps) succeeds
and does nothing; one with no route fails with a clear "not available against a server".
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from string import Formatter
from typing import Any
from urllib.parse import quote

from pydantic import ValidationError
from pydantic_core import to_jsonable_python

from flx_cli.remote.client import RemoteClient, problem_of
from flx_core.domain import ServiceResult

Parse = Callable[[Any, Any], Any]
Send = Callable[[RemoteClient, Any], Awaitable[Any]]

#: How often an install job is asked how it goes.
INSTALL_POLL_SECONDS = 1.0


class Failure(Exception):
    """The operation failed on the server: a failed ServiceResult, not a crash."""

    def __init__(self, message: str, code: str = "error", details: dict[str, Any] | None = None):
        super().__init__(message)
        self.message = message
        self.code = code
        self.details = details or {}


# -- answers into the values the local handlers return -----------------------------------
def _type(target: str) -> Any:
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


def one(target: str) -> Parse:
    """The answer as one ``module:Model``."""
    return lambda data, _message: _type(target).model_validate(data)


def many(target: str) -> Parse:
    """The answer as a list of ``module:Model``."""
    return lambda data, _message: [_type(target).model_validate(item) for item in data]


def page(target: str) -> Parse:
    """A ``PageOf`` answer as a ``flx_core.domain.ports.Page`` of ``module:Model``."""

    def parse(data: Any, _message: Any) -> Any:
        from flx_core.domain.ports import Page

        return Page[_type(target)].model_validate(data)  # type: ignore[misc]

    return parse


def items_of(target: str) -> Parse:
    """A ``PageOf`` answer whose local handler returns a plain list of its items."""
    return lambda data, _message: [_type(target).model_validate(i) for i in data["items"]]


def as_is(data: Any, _message: Any) -> Any:
    return data


PIPELINE = "flx_core.domain:Pipeline"
EXECUTION = "flx_core.domain:PipelineExecution"
PLUGIN = "flx_core.domain:Plugin"
STATE = "flx_core.domain.ports:StateVersion"
USER = "flx_auth:UserView"
SESSION = "flx_auth:SessionView"
REVOKED = "flx_auth:RevokedSessions"


# -- one REST call -----------------------------------------------------------------------
def _jsonable(value: Any) -> Any:
    return to_jsonable_python(value)


def _fields(message: Any, names: tuple[str, ...]) -> dict[str, Any]:
    return {name: _jsonable(getattr(message, name)) for name in names}


def _given(message: Any, name: str) -> Any:
    """A field's value only when the sender set it: the server's default (and cap) holds
    otherwise."""
    return getattr(message, name) if name in message.model_fields_set else None


def _secret(value: Any) -> Any:
    return value.get_secret_value() if hasattr(value, "get_secret_value") else value


def _quoted(value: Any) -> str:
    return quote(str(value), safe="")


@dataclass(frozen=True)
class Route:
    """``method path`` with ``{field}`` placeholders filled from the message; ``body``,
    ``params`` and ``headers`` build the rest of the request from the message; ``parse``
    turns the JSON answer (None for an empty one) into the value."""

    method: str
    path: str
    body: Callable[[Any], Any] | None = None
    params: Callable[[Any], dict[str, Any]] | None = None
    headers: Callable[[Any], dict[str, str]] | None = None
    parse: Parse = as_is
    public: bool = False
    placeholders: tuple[str, ...] = field(init=False)

    def __post_init__(self) -> None:
        names = tuple(name for _, name, _, _ in Formatter().parse(self.path) if name)
        object.__setattr__(self, "placeholders", names)

    async def __call__(self, client: RemoteClient, message: Any) -> Any:
        return self.parse(await self.answer(client, message), message)

    async def answer(self, client: RemoteClient, message: Any) -> Any:
        """The JSON of a successful answer (None when it has no body), or Failure."""
        path = self.path.format(**{n: _quoted(getattr(message, n)) for n in self.placeholders})
        params = self.params(message) if self.params else None
        response = await client.request(
            self.method,
            path,
            json=self.body(message) if self.body else None,
            params={k: v for k, v in params.items() if v is not None} if params else None,
            headers=self.headers(message) if self.headers else None,
            authenticated=not self.public,
        )
        if response.status_code >= 400:
            raise Failure(*problem_of(response))
        return response.json() if response.content else None


def fetched_then_deleted(fetch: Route, delete: Route) -> Send:
    """``DELETE`` answers 204, the local handler the deleted object: fetch it first."""

    async def send(client: RemoteClient, message: Any) -> Any:
        found = await fetch(client, message)
        await delete.answer(client, message)
        return found

    return send


# -- the calls that take more than one request --------------------------------------------
def _with_if_match(version: int | None) -> dict[str, str]:
    return {} if version is None else {"If-Match": f'"{version}"'}


async def update_pipeline(client: RemoteClient, message: Any) -> Any:
    """PATCH the changes. A whole config built from the server's answer carries its secret
    settings masked; the server keeps the stored value of a secret sent back masked."""
    changes = dict(message.changes)
    route = Route(
        "PATCH",
        "/pipelines/{pipeline}",
        body=lambda m: _jsonable(changes),
        headers=lambda m: _with_if_match(m.expected_version),
        parse=one(PIPELINE),
    )
    return await route(client, message)


async def delete_pipeline(client: RemoteClient, message: Any) -> Any:
    """The pipeline as it was, deleted at that version (not a newer one)."""
    found = await Route("GET", "/pipelines/{pipeline}", parse=one(PIPELINE))(client, message)
    await Route(
        "DELETE", "/pipelines/{pipeline}", headers=lambda m: _with_if_match(found.version)
    ).answer(client, message)
    return found


async def install_plugins(client: RemoteClient, message: Any) -> Any:
    """Start an install job on the server and wait for its end; the results per plugin,
    as the local handler gives them."""
    job = await Route(
        "POST", "/plugins/install", body=lambda m: _fields(m, ("names", "force"))
    ).answer(client, message)
    while job.get("status") not in ("succeeded", "failed"):
        await asyncio.sleep(INSTALL_POLL_SECONDS)
        job_id = _quoted(job.get("id") or job.get("job_id"))
        response = await client.request("GET", f"/plugins/install/{job_id}")
        if response.status_code >= 400:
            raise Failure(*problem_of(response))
        job = response.json()
    results = job.get("results") or []
    if job["status"] == "failed" and not results:
        raise Failure(str(job.get("error") or "the install job failed"), "install_failed")
    return results


async def list_streams(client: RemoteClient, message: Any) -> Any:
    """GET the streams; POST when the message carries trial rules (config, select,
    metadata) to apply to them."""
    trial = any(getattr(message, k) is not None for k in ("config", "select", "metadata"))
    if trial:
        route = Route(
            "POST",
            "/plugins/{plugin}/streams",
            body=lambda m: {
                k: v
                for k, v in _fields(
                    m, ("pipeline", "refresh", "config", "select", "metadata")
                ).items()
                if v is not None
            },
            parse=one("flx_meltano:StreamsListing"),
        )
    else:
        route = Route(
            "GET",
            "/plugins/{plugin}/streams",
            params=lambda m: {"pipeline": m.pipeline, "refresh": m.refresh},
            parse=one("flx_meltano:StreamsListing"),
        )
    return await route(client, message)


async def revoke_session(client: RemoteClient, message: Any) -> Any:
    """A user's session when the message names the user, else one of the caller's own."""
    path = (
        "/users/{email}/sessions/{session_id}" if message.email else "/auth/sessions/{session_id}"
    )
    return await Route("DELETE", path, parse=one(REVOKED))(client, message)


async def logout(client: RemoteClient, message: Any) -> Any:
    headers = {}
    if message.access_token is not None:
        headers["Authorization"] = f"Bearer {_secret(message.access_token)}"
    body = {"refresh_token": _secret(message.refresh_token)} if message.refresh_token else None
    route = Route(
        "POST", "/auth/logout", body=lambda m: body, headers=lambda m: headers, public=True
    )
    await route.answer(client, message)
    return []


@dataclass(frozen=True)
class NothingReaped:
    """The answer to ReapDeadExecutions against a server: its own reaper does the work."""

    reaped: list[str] = field(default_factory=list)
    retries: list[str] = field(default_factory=list)
    submitted: bool = True


async def reap_nothing(client: RemoteClient, message: Any) -> Any:
    return NothingReaped()


async def config_as_given(client: RemoteClient, message: Any) -> Any:
    """TypedPipelineConfig: the values go as given; the server gives each the kind its
    plugin declares when it creates or changes the pipeline."""
    return message.config


# -- the table ----------------------------------------------------------------------------
def _pipeline_filter(m: Any) -> dict[str, Any]:
    f = m.filter
    return {
        "name_contains": f.name_contains,
        "extractor": f.extractor,
        "loader": f.loader,
        "enabled": f.enabled,
        "tag": f.tag,
        "limit": m.limit,
        "cursor": m.cursor,
    }


def _execution_filter(m: Any) -> dict[str, Any]:
    f = m.filter
    return {
        "pipeline": getattr(m, "pipeline", None) or f.pipeline_name or f.pipeline_id,
        "status": sorted(s.value for s in f.statuses) or None,
        "trigger": f.trigger,
        "retry_of": f.retry_of,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "limit": m.limit,
        "cursor": m.cursor,
    }


def _event_filter(m: Any) -> dict[str, Any]:
    f = m.filter
    return {
        "aggregate_id": f.aggregate_id,
        "event_type": f.event_type,
        "actor": f.actor,
        "since": f.since.isoformat() if f.since else None,
        "until": f.until.isoformat() if f.until else None,
        "after": f.after,
        "limit": m.limit,
    }


def _user_changes(m: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if getattr(m, "roles", None) is not None:
        changes["roles"] = sorted(str(getattr(r, "value", r)) for r in m.roles)
    if getattr(m, "active", None) is not None:
        changes["active"] = m.active
    return changes


def _dump(m: Any) -> Any:
    return m.model_dump(mode="json")


#: (package whose public face exports the message, message class name) -> how to send it.
ROUTES: dict[tuple[str, str], Send] = {
    # pipelines
    ("flx_core", "ListPipelines"): Route(
        "GET", "/pipelines", params=_pipeline_filter, parse=page(PIPELINE)
    ),
    ("flx_core", "CreatePipeline"): Route("POST", "/pipelines", body=_dump, parse=one(PIPELINE)),
    ("flx_core", "GetPipeline"): Route("GET", "/pipelines/{pipeline}", parse=one(PIPELINE)),
    ("flx_core", "UpdatePipeline"): update_pipeline,
    ("flx_core", "DeletePipeline"): delete_pipeline,
    ("flx_core", "TypedPipelineConfig"): config_as_given,
    ("flx_meltano", "ValidatePipeline"): Route(
        "POST", "/pipelines/{pipeline}/validate", parse=one("flx_meltano:PipelineValidation")
    ),
    ("flx_meltano", "RunPipeline"): Route(
        "POST",
        "/pipelines/{pipeline}/run",
        body=lambda m: _fields(m, ("full_refresh", "refresh_catalog", "timeout")),
        headers=lambda m: {"Idempotency-Key": m.idempotency_key} if m.idempotency_key else {},
        parse=one(EXECUTION),
    ),
    # executions
    ("flx_core", "ListExecutions"): Route(
        "GET", "/executions", params=_execution_filter, parse=page(EXECUTION)
    ),
    ("flx_core", "GetExecution"): Route("GET", "/executions/{execution_id}", parse=one(EXECUTION)),
    ("flx_meltano", "ReadExecutionLog"): Route(
        "GET",
        "/executions/{execution_id}/logs",
        params=lambda m: {"offset": m.offset, "tail": m.tail, "limit": _given(m, "limit")},
        parse=one("flx_meltano:ExecutionLog"),
    ),
    ("flx_meltano", "CancelExecution"): Route(
        "POST", "/executions/{execution_id}/cancel", parse=one(EXECUTION)
    ),
    ("flx_meltano", "RetryExecution"): Route(
        "POST", "/executions/{execution_id}/retry", parse=one(EXECUTION)
    ),
    ("flx_meltano", "ReapDeadExecutions"): reap_nothing,
    ("flx_core", "ListAuditEvents"): Route(
        "GET", "/events", params=_event_filter, parse=items_of("flx_core.domain.ports:StoredEvent")
    ),
    # plugins
    ("flx_core", "ListPlugins"): Route(
        "GET",
        "/plugins",
        params=lambda m: {"plugin_type": m.plugin_type.value if m.plugin_type else None},
        parse=many(PLUGIN),
    ),
    ("flx_core", "AddPlugin"): Route("POST", "/plugins", body=_dump, parse=one(PLUGIN)),
    ("flx_core", "GetPlugin"): Route("GET", "/plugins/{name}", parse=one(PLUGIN)),
    ("flx_core", "UpdatePlugin"): Route(
        "PATCH", "/plugins/{name}", body=lambda m: _jsonable(m.changes), parse=one(PLUGIN)
    ),
    ("flx_core", "RemovePlugin"): fetched_then_deleted(
        Route("GET", "/plugins/{name}", parse=one(PLUGIN)), Route("DELETE", "/plugins/{name}")
    ),
    ("flx_core", "SetPluginSetting"): Route(
        "PUT",
        "/plugins/{name}/settings/{setting}",
        body=lambda m: _fields(m, ("value", "secret")),
        parse=one(PLUGIN),
    ),
    ("flx_core", "UnsetPluginSetting"): Route(
        "DELETE", "/plugins/{name}/settings/{setting}", parse=one(PLUGIN)
    ),
    ("flx_meltano", "GetPluginConfig"): Route(
        "GET", "/plugins/{name}/config", params=lambda m: {"pipeline": m.pipeline}
    ),
    ("flx_meltano", "ListStreams"): list_streams,
    ("flx_meltano", "InstallPlugins"): install_plugins,
    ("flx_meltano", "RegisterBuiltinPlugins"): Route(
        "POST", "/plugins/builtin", parse=lambda data, _m: [p["name"] for p in data or []]
    ),
    # state
    ("flx_meltano", "ListStates"): Route("GET", "/state", parse=many(STATE)),
    ("flx_meltano", "ExportStates"): Route(
        "GET", "/state/export", params=lambda m: {"state_id": list(m.state_ids) or None}
    ),
    ("flx_meltano", "ImportStates"): Route(
        "POST", "/state/import", body=lambda m: _fields(m, ("states",)), parse=many(STATE)
    ),
    ("flx_meltano", "GetState"): Route("GET", "/state/{state_id}", parse=one(STATE)),
    ("flx_meltano", "SetState"): Route(
        "PUT",
        "/state/{state_id}",
        body=lambda m: _fields(m, ("value", "merge", "note")),
        parse=one(STATE),
    ),
    ("flx_meltano", "ClearState"): Route(
        "DELETE", "/state/{state_id}", parse=lambda _data, m: m.state_id
    ),
    ("flx_meltano", "StateHistory"): Route(
        "GET", "/state/{state_id}/history", params=lambda m: {"limit": m.limit}, parse=many(STATE)
    ),
    ("flx_meltano", "RestoreState"): Route(
        "POST",
        "/state/{state_id}/restore",
        body=lambda m: _fields(m, ("version",)),
        parse=one(STATE),
    ),
    # schedules
    ("flx_meltano", "ListSchedules"): Route(
        "GET",
        "/schedules",
        params=lambda m: {"count": m.next_count},
        parse=many("flx_meltano:ScheduleView"),
    ),
    # users
    ("flx_auth", "ListUsers"): Route("GET", "/users", parse=many(USER)),
    ("flx_auth", "CreateUser"): Route(
        "POST",
        "/users",
        body=lambda m: {"email": m.email, "password": _secret(m.password), **_user_changes(m)},
        parse=one(USER),
    ),
    ("flx_auth", "GetUser"): Route("GET", "/users/{email}", parse=one(USER)),
    ("flx_auth", "UpdateUser"): Route(
        "PATCH", "/users/{email}", body=_user_changes, parse=one(USER)
    ),
    ("flx_auth", "SetUserRole"): Route(
        "PATCH", "/users/{email}", body=_user_changes, parse=one(USER)
    ),
    ("flx_auth", "EnableUser"): Route(
        "PATCH", "/users/{email}", body=lambda m: {"active": True}, parse=one(USER)
    ),
    ("flx_auth", "DisableUser"): Route(
        "PATCH", "/users/{email}", body=lambda m: {"active": False}, parse=one(USER)
    ),
    ("flx_auth", "ResetPassword"): Route(
        "POST",
        "/users/{email}/password",
        body=lambda m: {"password": _secret(m.password)},
        parse=one(USER),
    ),
    ("flx_auth", "DeleteUser"): fetched_then_deleted(
        Route("GET", "/users/{email}", parse=one(USER)), Route("DELETE", "/users/{email}")
    ),
    ("flx_auth", "ListSessions"): Route(
        "GET",
        "/users/{email}/sessions",
        params=lambda m: {"include_revoked": m.include_revoked},
        parse=many(SESSION),
    ),
    ("flx_auth", "RevokeAllSessions"): Route(
        "DELETE", "/users/{email}/sessions", parse=one(REVOKED)
    ),
    ("flx_auth", "RevokeSession"): revoke_session,
    # the caller's own account and tokens
    ("flx_auth", "Login"): Route(
        "POST",
        "/auth/login",
        body=lambda m: {"email": m.email, "password": _secret(m.password)},
        parse=one("flx_auth:TokenPair"),
        public=True,
    ),
    ("flx_auth", "Refresh"): Route(
        "POST",
        "/auth/refresh",
        body=lambda m: {"refresh_token": _secret(m.refresh_token)},
        parse=one("flx_auth:TokenPair"),
        public=True,
    ),
    ("flx_auth", "Logout"): logout,
    ("flx_auth", "CurrentUser"): Route("GET", "/auth/me", parse=one(USER)),
    ("flx_auth", "ListOwnSessions"): Route(
        "GET",
        "/auth/sessions",
        params=lambda m: {"include_revoked": m.include_revoked},
        parse=many(SESSION),
    ),
    ("flx_auth", "RevokeOwnSession"): Route(
        "DELETE", "/auth/sessions/{session_id}", parse=one(REVOKED)
    ),
}


def route_of(message_type: type) -> Send | None:
    """How a message of this type goes to the server (None: it does not)."""
    package = message_type.__module__.split(".")[0]
    return ROUTES.get((package, message_type.__name__))


class _Bus:
    """``app.commands`` / ``app.queries``: the same table (some commands pick a bus)."""

    def __init__(self, app: RemoteApplication) -> None:
        self._app = app

    async def execute(self, message: Any, *, principal: Any = None) -> ServiceResult[Any]:
        return await self._app.execute(message, principal=principal)


class RemoteApplication:
    """Stands for ``flx_core.application.Application`` in a CLI that talks to a server."""

    def __init__(self, client: RemoteClient) -> None:
        self.client = client
        self.commands = _Bus(self)
        self.queries = _Bus(self)

    def handles(self, message_type: type) -> bool:
        return route_of(message_type) is not None

    async def execute(self, message: Any, *, principal: Any = None) -> ServiceResult[Any]:
        send = route_of(type(message))
        if send is None:
            name = type(message).__name__
            return ServiceResult.failure(
                f"not available against a server ({name} has no API route); run it where "
                "the FLX database is, without --server / FLX_SERVER",
                "not_available_remotely",
                {"message": name, "server": self.client.server},
            )
        try:
            return ServiceResult.success(await send(self.client, message))
        except Failure as failed:
            return ServiceResult.failure(failed.message, failed.code, failed.details)
        except (ValidationError, KeyError, TypeError) as exc:
            return ServiceResult.failure(
                f"the server's answer to {type(message).__name__} was not understood "
                f"({type(exc).__name__}: {str(exc).splitlines()[0]}); is it another FLX "
                "version?",
                "bad_answer",
            )

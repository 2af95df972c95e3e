"""Every operation of the live server's OpenAPI document, walked with each kind of caller.

Without a token every operation answers 401 (a problem document with a ``WWW-Authenticate``
challenge), except the public ones; with a viewer's token every write answers 403, except the
public ones and those on the caller's own account. The exceptions are listed below with their
reasons. Every operation the document lists is checked, so a new route is checked the day it
appears: a new write a viewer may make fails here until it is added to ``VIEWER_WRITES``, and
a new path parameter fails until ``World.values`` knows an object to fill it with.

The viewer's writes name objects that exist (a real pipeline, execution, plugin, setting,
state, user and session) and carry valid bodies, so the 403 comes from the permission and
not from a 404 or a 422. The bus checks the permission before the handler loads anything, so
the same writes naming objects that do not exist are 403 too; a test of its own holds that,
since it means a refused caller learns nothing about what exists. The token is checked before
anything else, so the requests without one name nothing that exists.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from flx_auth import Role

API = "/api/v1"
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
PROBLEM_JSON = "application/problem+json"

#: Operations anyone may call: the credentials they carry are the authorization.
PUBLIC: dict[tuple[str, str], str] = {
    ("POST", f"{API}/auth/login"): "exchanges an email and password for tokens",
    ("POST", f"{API}/auth/refresh"): "the refresh token in the body is the credential",
    ("POST", f"{API}/auth/logout"): "ends the session of the token it is given, if any",
    ("GET", "/health/live"): "probes of a process supervisor carry no token",
    ("GET", "/health/ready"): "probes of a process supervisor carry no token",
}

#: Pages outside the document itself, also public: the document and its viewer.
PUBLIC_PAGES = ("/openapi.json", "/docs")

#: Writes a viewer may make, and why: they act on the caller's own account, or they are
#: POSTs that change nothing.
VIEWER_WRITES: dict[tuple[str, str], str] = {
    ("DELETE", f"{API}/auth/sessions/{{session_id}}"): "ends one of the caller's own sessions",
    ("POST", f"{API}/pipelines/{{pipeline}}/validate"): (
        "checks that a pipeline could run and changes nothing (pipeline:read)"
    ),
}

PIPELINE = {"name": "walk", "extractor": "tap-flx-sample", "loader": "target-flx-jsonl"}
STRONG_PASSWORD = "another correct horse battery staple"

#: Valid bodies of the writes, so a refused write is refused for its permission and not for
#: its body. A write missing here gets a body made from its schema's required fields.
BODIES: dict[tuple[str, str], Any] = {
    ("POST", f"{API}/pipelines"): {**PIPELINE, "name": "walk-new"},
    ("PATCH", f"{API}/pipelines/{{pipeline}}"): {"description": "changed"},
    ("POST", f"{API}/pipelines/{{pipeline}}/run"): {},
    ("POST", f"{API}/users"): {
        "email": "new@example.com",
        "password": STRONG_PASSWORD,
        "roles": ["viewer"],
    },
    ("PATCH", f"{API}/users/{{email}}"): {"active": True},
    ("POST", f"{API}/users/{{email}}/password"): {"password": STRONG_PASSWORD},
    ("POST", f"{API}/plugins"): {
        "plugin_type": "extractor",
        "name": "tap-walk",
        "executable": "true",
    },
    ("PATCH", f"{API}/plugins/{{name}}"): {"namespace": "walk"},
    ("PUT", f"{API}/plugins/{{name}}/settings/{{setting}}"): {"value": 7},
    ("POST", f"{API}/plugins/{{name}}/streams"): {},
    ("POST", f"{API}/plugins/install"): {"names": ["tap-flx-sample"]},
    ("PUT", f"{API}/state/{{state_id}}"): {"value": {"bookmarks": {}}},
    ("POST", f"{API}/state/{{state_id}}/restore"): {"version": 1},
    ("POST", f"{API}/state/import"): {"states": {}},
}


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.path)

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def params(self) -> list[str]:
        return [p["name"] for p in self.spec.get("parameters", []) if p["in"] == "path"]


def operations(document: dict[str, Any]) -> list[Operation]:
    return [
        Operation(method.upper(), path, spec)
        for path, item in document["paths"].items()
        for method, spec in item.items()
        if method.upper() in {"GET", *WRITES}
    ]


@dataclass
class World:
    """Objects that exist on the server, to name in the paths of the walk."""

    values: dict[str, str] = field(default_factory=dict)
    #: Values for one operation only (the viewer's own session on the own-session route).
    own: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)

    def path(self, op: Operation, *, made_up: bool = False) -> str:
        filled = op.path
        for name in op.params:
            value = MADE_UP.get(name, "no-such-thing") if made_up else self.value(op, name)
            filled = filled.replace(f"{{{name}}}", value)
        return filled

    def value(self, op: Operation, name: str) -> str:
        if name in self.own.get(op.key, {}):
            return self.own[op.key][name]
        if name not in self.values:
            pytest.fail(
                f"{op.label}: no existing object to fill the path parameter {name!r} with; "
                "add one to World (test_route_walk.py)"
            )
        return self.values[name]


#: Names of things that do not exist, valid in form (an email is still an email).
MADE_UP = {"email": "nobody@example.com", "execution_id": "0123456789abcdef0123456789abcdef"}


def register_builtin_plugins(api: Any) -> None:
    from flx_core.application import ProcessKind
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins

    async def go() -> None:
        runtime = await bootstrap(api.settings, kind=ProcessKind.CLI, migrate=False)
        try:
            done = await runtime.app.execute(RegisterBuiltinPlugins(), principal=Principal.system())
            assert done.ok, done.message
        finally:
            await runtime.aclose()

    asyncio.run(go())


def build_world(api: Any) -> World:
    """A pipeline that ran once, the built-in plugins, users and their sessions."""
    register_builtin_plugins(api)
    operator, admin, viewer = api.operator, api.admin, api.viewer
    created = operator.post(f"{API}/pipelines", json=PIPELINE)
    assert created.status_code == 201, created.text
    ran = operator.post(f"{API}/pipelines/walk/run", json={})
    assert ran.status_code == 202, ran.text
    execution = ran.json()
    wait_for_end(operator, execution["id"])
    operator_sessions = admin.get(f"{API}/users/operator@example.com/sessions")
    assert operator_sessions.status_code == 200, operator_sessions.text
    own_sessions = viewer.get(f"{API}/auth/sessions")
    assert own_sessions.status_code == 200, own_sessions.text
    world = World(
        values={
            "pipeline": "walk",
            "execution_id": execution["id"],
            "name": "tap-flx-sample",
            "setting": "rows",
            "state_id": created.json()["state_id"],
            "email": "operator@example.com",
            "session_id": operator_sessions.json()[0]["id"],
            "job_id": "0123456789abcdef0123456789abcdef",
        }
    )
    world.own[("DELETE", f"{API}/auth/sessions/{{session_id}}")] = {
        "session_id": own_sessions.json()[0]["id"]
    }
    return world


def wait_for_end(client: httpx.Client, execution_id: str) -> None:
    """Polls the execution until it is over, so the server stops with no run under way."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = client.get(f"{API}/executions/{execution_id}")
        assert got.status_code == 200, got.text
        if got.json()["status"] in ("succeeded", "failed", "cancelled"):
            return
        time.sleep(0.1)
    pytest.fail(f"execution {execution_id} did not end within 60 s")


def body_for(op: Operation, document: dict[str, Any]) -> Any:
    """The body to send: the sample in BODIES, else one made of the schema's required
    fields, else none."""
    if op.key in BODIES:
        return BODIES[op.key]
    content = op.spec.get("requestBody", {}).get("content", {})
    schema = content.get("application/json", {}).get("schema")
    if schema is None:
        return None
    return minimal(schema, document)


def minimal(schema: dict[str, Any], document: dict[str, Any]) -> Any:
    """The smallest value a JSON schema accepts, as far as the schemas here need."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return minimal(document["components"]["schemas"][name], document)
    if "default" in schema:
        return schema["default"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return minimal(schema[key][0], document)
    kind = schema.get("type", "object")
    if kind == "object":
        properties = schema.get("properties", {})
        return {
            name: minimal(properties.get(name, {}), document) for name in schema.get("required", [])
        }
    return {
        "string": "walk",
        "integer": 1,
        "number": 1,
        "boolean": True,
        "array": [],
        "null": None,
    }[kind]


def send(client: httpx.Client, op: Operation, path: str, body: Any) -> httpx.Response:
    if body is None:
        return client.request(op.method, path)
    return client.request(op.method, path, json=body)


def openapi(api: Any) -> dict[str, Any]:
    document = api.anonymous.get("/openapi.json")
    assert document.status_code == 200, document.text
    result: dict[str, Any] = document.json()
    return result


def test_exceptions_name_routes_that_exist(sqlite_api: Any) -> None:
    """An exception whose route is gone would hide nothing, but it would mislead a reader."""
    document = openapi(sqlite_api)
    present = {op.key for op in operations(document)}
    stale = [f"{m} {p}" for m, p in [*PUBLIC, *VIEWER_WRITES, *BODIES] if (m, p) not in present]
    assert stale == [], f"listed in test_route_walk.py but not in the API: {stale}"


def test_without_a_token_every_route_but_the_public_ones_is_401(api: Any) -> None:
    """The token is checked before anything else: the paths name nothing that exists, and
    the bodies are valid, so no other answer could come first."""
    document, world = openapi(api), World()
    anonymous = api.anonymous
    wrong: list[str] = []
    for op in operations(document):
        declares_token = bool(op.spec.get("security"))
        if op.key in PUBLIC:
            if declares_token:
                wrong.append(f"{op.label}: public, but the document asks for a token")
            continue
        if not declares_token:
            wrong.append(f"{op.label}: the document does not say it needs a token")
        response = send(anonymous, op, world.path(op, made_up=True), body_for(op, document))
        if response.status_code != 401:
            wrong.append(f"{op.label}: {response.status_code} {response.text[:200]}")
            continue
        if response.headers["content-type"] != PROBLEM_JSON:
            wrong.append(f"{op.label}: 401 as {response.headers['content-type']}")
        if not response.headers.get("www-authenticate", "").startswith("Bearer"):
            wrong.append(f"{op.label}: 401 without a Bearer challenge")
        if response.json().get("code") != "unauthenticated":
            wrong.append(f"{op.label}: 401 with code {response.json().get('code')!r}")
    for page in PUBLIC_PAGES:
        response = anonymous.get(page)
        if response.status_code != 200:
            wrong.append(f"GET {page}: {response.status_code}")
    assert not wrong, "\n".join(wrong)


def test_a_viewer_can_write_nothing_but_its_own_account(api: Any) -> None:
    document, world = openapi(api), build_world(api)
    viewer = api.client(Role.VIEWER)
    wrong: list[str] = []
    allowed: list[Operation] = []
    for op in operations(document):
        if op.method not in WRITES or op.key in PUBLIC:
            continue
        if op.key in VIEWER_WRITES:
            allowed.append(op)
            continue
        response = send(viewer, op, world.path(op), body_for(op, document))
        if response.status_code == 422:
            wrong.append(
                f"{op.label}: the walk's body was refused ({response.json().get('detail')}); "
                "give a valid one in BODIES"
            )
        elif response.status_code != 403:
            wrong.append(
                f"{op.label}: a viewer got {response.status_code} {response.text[:200]}; if "
                "a viewer may do this, add it to VIEWER_WRITES with the reason"
            )
        elif response.json().get("code") != "permission_denied":
            wrong.append(f"{op.label}: 403 with code {response.json().get('code')!r}")
        elif response.headers["content-type"] != PROBLEM_JSON:
            wrong.append(f"{op.label}: 403 as {response.headers['content-type']}")
    # The exceptions hold: a viewer really may make these writes (last, and ending its own
    # session last of all).
    for op in sorted(allowed, key=lambda op: op.method == "DELETE"):
        response = send(viewer, op, world.path(op), body_for(op, document))
        if not response.is_success:
            wrong.append(f"{op.label}: excepted, yet {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)


def test_a_viewers_write_to_what_does_not_exist_is_403_too(api: Any) -> None:
    """The permission is checked before anything is loaded: a refused caller cannot probe
    which pipelines, users or executions exist."""
    document, world = openapi(api), World()
    viewer = api.client(Role.VIEWER)
    wrong = []
    for op in operations(document):
        if op.method not in WRITES or op.key in PUBLIC or op.key in VIEWER_WRITES:
            continue
        if not op.params:
            continue
        response = send(viewer, op, world.path(op, made_up=True), body_for(op, document))
        if response.status_code != 403:
            wrong.append(f"{op.label}: {response.status_code} {response.text[:200]}")
    assert not wrong, "\n".join(wrong)

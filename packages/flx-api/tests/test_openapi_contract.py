"""The API keeps the promises of its OpenAPI document, checked with Schemathesis against the
live server (SQLite and PostgreSQL), as an administrator, who may call everything.

For every operation of ``/openapi.json``, Schemathesis sends requests it derives from the
document and checks each answer. The requests: the boundary cases of valid values (its
coverage phase; the invalid ones would double the run for answers that are all 422, and the
generated examples send invalid values anyway), then ``EXAMPLES`` examples generated from the
schemas, valid and invalid, derandomized so that every run sends the same. The checks:

- no 5xx (``not_a_server_error``);
- its status code is one the document declares for the operation;
- its media type is one declared for that status;
- its body validates against the schema declared for that status and media type.

Half the requests name objects that exist instead of the generated names in their paths (a
pipeline that ran, a built-in plugin and its setting, a state, a user and a session): random
names only ever find 404s, and the bodies of the 200s are what most needs checking. Writes
are real and may delete those objects; each test has its own server and database. The
document is fetched from the server, so a new route is checked as soon as it exists; nothing
is excluded. The two event streams are read until their first event or a one-second timeout
(the domain events stream never ends by itself).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from flx_api.testing import ApiServer

API = "/api/v1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Generated examples per operation, beside the boundary cases.
EXAMPLES = 10
PIPELINE = {"name": "contract", "extractor": "tap-flx-sample", "loader": "target-flx-jsonl"}

#: Operations that may end the caller's session (logout, revoking sessions, resetting a
#: password): after each of their requests the token is tried, and replaced if it ended.
SESSION_ENDING = (f"{API}/auth", f"{API}/users")


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


def existing_objects(api: Any) -> dict[str, str]:
    """A pipeline that ran, with its execution and state; the built-in plugins; a session.
    Path parameter name -> the name of an object that exists."""
    register_builtin_plugins(api)
    operator, admin = api.operator, api.admin
    created = operator.post(f"{API}/pipelines", json=PIPELINE)
    assert created.status_code == 201, created.text
    ran = operator.post(f"{API}/pipelines/contract/run", json={})
    assert ran.status_code == 202, ran.text
    execution_id = ran.json()["id"]
    deadline = time.monotonic() + 60
    while operator.get(f"{API}/executions/{execution_id}").json()["status"] not in (
        "succeeded",
        "failed",
        "cancelled",
    ):
        assert time.monotonic() < deadline, "the pipeline's run did not end within 60 s"
        time.sleep(0.1)
    sessions = admin.get(f"{API}/users/operator@example.com/sessions")
    assert sessions.status_code == 200, sessions.text
    return {
        "pipeline": "contract",
        "execution_id": execution_id,
        "name": "tap-flx-sample",
        "setting": "rows",
        "state_id": created.json()["state_id"],
        "email": "operator@example.com",
        "session_id": sessions.json()[0]["id"],
    }


class Caller:
    """An administrator of the test's own (the requests cannot guess its email), its token
    for each request, and the objects to name in paths."""

    EMAIL = "contract-admin@example.com"
    PASSWORD = "a contract administrator's passphrase"

    def __init__(self, api: Any, objects: dict[str, str]) -> None:
        self.api = api
        self.objects = objects
        self.seen: Counter[str] = Counter()
        created = api.admin.post(
            f"{API}/users",
            json={"email": self.EMAIL, "password": self.PASSWORD, "roles": ["admin"]},
        )
        assert created.status_code == 201, created.text
        self.token = self.fresh_token()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    def after(self, case: schemathesis.Case[Any]) -> None:
        """A new token if the request may have ended the session, and it did."""
        if not case.operation.path.startswith(SESSION_ENDING):
            return
        if self.api.anonymous.get(f"{API}/auth/me", headers=self.headers()).status_code == 401:
            self.token = self.fresh_token()

    def fresh_token(self) -> str:
        response = self.api.anonymous.post(
            f"{API}/auth/login", json={"email": self.EMAIL, "password": self.PASSWORD}
        )
        assert response.status_code == 200, f"the administrator cannot log in: {response.text}"
        token: str = response.json()["access_token"]
        return token

    def name_existing_objects(self, case: schemathesis.Case[Any]) -> None:
        """Every other request of an operation names objects that exist."""
        label = case.operation.label
        self.seen[label] += 1
        if not case.path_parameters or self.seen[label] % 2:
            return
        for name in list(case.path_parameters):
            if name in self.objects:
                case.path_parameters[name] = self.objects[name]


@pytest.fixture
def caller(api: Any) -> Caller:
    return Caller(api, existing_objects(api))


@pytest.fixture
def api_schema(api: Any, caller: Caller) -> Any:
    config = schemathesis.Config.from_dict(
        {
            "generation": {
                "mode": "all",
                "max-examples": EXAMPLES,
                "deterministic": True,
                # The token is the test's own (see Caller); a generated one is only a 401.
                "with-security-parameters": False,
            },
            "phases": {"coverage": {"unexpected-methods": [], "generation": {"mode": "positive"}}},
            "request-timeout": 30,
            "operations": [
                {
                    "include-path-regex": "/stream$",
                    "request-timeout": 1,
                    "max-stream-events": 1,
                }
            ],
        }
    )
    return schemathesis.openapi.from_url(f"{api.url}/openapi.json", config=config)


@pytest.fixture(autouse=True)
def _node_id_for_schemathesis(request: pytest.FixtureRequest) -> None:
    """Schemathesis' fixture-loaded schemas read and rewrite the test node's private
    ``_nodeid``, which pytest 9.2 no longer has (it keeps ``_id``): give it one to read."""
    if not hasattr(request.node, "_nodeid"):
        request.node._nodeid = request.node.nodeid


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_answer_is_one_the_document_declares(
    case: schemathesis.Case[Any], caller: Caller
) -> None:
    caller.name_existing_objects(case)
    try:
        case.call_and_validate(headers=caller.headers(), checks=CHECKS)
    finally:
        caller.after(case)


def test_the_server_serves_the_document_it_was_built_with(sqlite_api: Any) -> None:
    """The document the checks read is the application's own (not a cached or partial one),
    and every operation in it has a unique operation id, the name a client generator uses."""
    served = sqlite_api.anonymous.get("/openapi.json").json()
    assert isinstance(sqlite_api.server, ApiServer)
    assert served == sqlite_api.server.app.openapi()
    ids = [
        op["operationId"]
        for item in served["paths"].values()
        for op in item.values()
        if isinstance(op, dict) and "operationId" in op
    ]
    assert len(ids) == len(set(ids)), Counter(ids).most_common(3)

"""Every method of every FLX service through a real server: refused without a token,
refused to a viewer when it changes something (or reads what a viewer may not), and done
for an administrator, with failures as status codes carrying google.rpc details."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from google.protobuf import field_mask_pb2, message_factory, struct_pb2
from google.protobuf.descriptor import MethodDescriptor
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from flx_grpc import SERVICE_NAMES
from flx_grpc._generated.flx.v1 import (
    auth_service_pb2 as auth,
    event_service_pb2 as events,
    execution_service_pb2 as executions,
    extension_service_pb2 as extensions,
    pipeline_service_pb2 as pipelines,
    plugin_service_pb2 as plugins,
    schedule_service_pb2 as schedules,
    state_service_pb2 as state,
    user_service_pb2 as users,
)
from flx_grpc.client import error_info, pipeline_spec

from .conftest import EMAILS, PASSWORD, Role, Running

#: The module's tests share one server: one worker runs them all.
pytestmark = pytest.mark.xdist_group("grpc-methods")

MODULES = [auth, users, pipelines, executions, plugins, state, schedules, events, extensions]
PUBLIC = {"AuthService/Login", "AuthService/Refresh", "AuthService/Logout"}


def all_methods() -> Iterator[tuple[str, MethodDescriptor]]:
    for module in MODULES:
        for service in module.DESCRIPTOR.services_by_name.values():
            for method in service.methods:
                yield f"{service.name}/{method.name}", method


def invoke(
    target: str, method: MethodDescriptor, request: Any, token: str | None = None
) -> grpc.StatusCode:
    """Call any method with ``request``; the status code it ends with."""
    path = f"/{method.containing_service.full_name}/{method.name}"
    request_type = message_factory.GetMessageClass(method.input_type)
    response_type = message_factory.GetMessageClass(method.output_type)
    metadata = [("authorization", f"Bearer {token}")] if token else []
    options = {
        "request_serializer": request_type.SerializeToString,
        "response_deserializer": response_type.FromString,
    }
    with grpc.insecure_channel(target) as channel:
        try:
            if method.client_streaming:
                stream = channel.stream_stream(path, **options)
                for _ in stream(iter([request]), metadata=metadata, timeout=2):
                    break
            elif method.server_streaming:
                for _ in channel.unary_stream(path, **options)(
                    request, metadata=metadata, timeout=10
                ):
                    pass
            else:
                channel.unary_unary(path, **options)(request, metadata=metadata, timeout=10)
        except grpc.RpcError as error:
            code: grpc.StatusCode = error.code()  # type: ignore[attr-defined]
            return code
    return grpc.StatusCode.OK


def test_the_services_are_those_the_server_names() -> None:
    served = {s.full_name for m in MODULES for s in m.DESCRIPTOR.services_by_name.values()}
    assert served == set(SERVICE_NAMES)


def test_every_method_but_login_refresh_and_logout_needs_a_token(grpc_server: Running) -> None:
    refused = []
    for name, method in all_methods():
        request = message_factory.GetMessageClass(method.input_type)()
        code = invoke(grpc_server.target, method, request)
        if name in PUBLIC:
            continue
        assert code == grpc.StatusCode.UNAUTHENTICATED, (name, code)
        refused.append(name)
    assert {"ExecutionService/StreamLogs", "ExecutionService/Watch"} <= set(refused)
    # Login takes no token: an empty one is bad input, past authentication.
    login = dict(all_methods())["AuthService/Login"]
    code = invoke(grpc_server.target, login, auth.LoginRequest(email="x"))
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    # A token that is no token is refused with its reason.
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.anonymous.stubs.pipelines.ListPipelines(
            pipelines.ListPipelinesRequest(), metadata=[("authorization", "Bearer nonsense")]
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert error_info(caught.value)[1]["reason"] == "malformed"


def viewer_refused_requests() -> dict[str, Any]:
    """A well-formed request of each method a viewer may not call."""
    mask = field_mask_pb2.FieldMask
    other = EMAILS[Role.OPERATOR]
    return {
        "UserService/ListUsers": users.ListUsersRequest(),
        "UserService/GetUser": users.GetUserRequest(email=other),
        "UserService/ListUserSessions": users.ListUserSessionsRequest(email=other),
        "UserService/CreateUser": users.CreateUserRequest(
            email="new@example.com", password=PASSWORD, roles=["viewer"]
        ),
        "UserService/UpdateUser": users.UpdateUserRequest(
            email=other, active=False, update_mask=mask(paths=["active"])
        ),
        "UserService/ResetUserPassword": users.ResetUserPasswordRequest(
            email=other, password=PASSWORD + "!"
        ),
        "UserService/DeleteUser": users.DeleteUserRequest(email=other),
        "UserService/RevokeUserSessions": users.RevokeUserSessionsRequest(email=other),
        "UserService/RevokeUserSession": users.RevokeUserSessionRequest(
            email=other, session_id="abcdef"
        ),
        "PipelineService/CreatePipeline": pipelines.CreatePipelineRequest(
            pipeline=pipeline_spec("v", extractor="tap-flx-sample", loader="target-flx-jsonl")
        ),
        "PipelineService/UpdatePipeline": pipelines.UpdatePipelineRequest(
            pipeline="shared",
            changes=pipelines.PipelineSpec(description="x"),
            update_mask=mask(paths=["description"]),
        ),
        "PipelineService/DeletePipeline": pipelines.DeletePipelineRequest(pipeline="shared"),
        "PipelineService/EnablePipeline": pipelines.EnablePipelineRequest(pipeline="shared"),
        "PipelineService/DisablePipeline": pipelines.DisablePipelineRequest(pipeline="shared"),
        "ExecutionService/RunPipeline": executions.RunPipelineRequest(pipeline="shared"),
        "ExecutionService/CancelExecution": executions.CancelExecutionRequest(
            execution_id="abcdef123456"
        ),
        "ExecutionService/RetryExecution": executions.RetryExecutionRequest(
            execution_id="abcdef123456"
        ),
        "PluginService/AddPlugin": plugins.AddPluginRequest(
            plugin=plugins.PluginSpec(plugin_type="extractor", name="tap-new")
        ),
        "PluginService/RegisterBuiltinPlugins": plugins.RegisterBuiltinPluginsRequest(),
        "PluginService/InstallPlugins": plugins.InstallPluginsRequest(names=["tap-flx-sample"]),
        "PluginService/UpdatePlugin": plugins.UpdatePluginRequest(
            name="tap-flx-sample",
            changes=plugins.PluginSpec(variant="x"),
            update_mask=mask(paths=["variant"]),
        ),
        "PluginService/DeletePlugin": plugins.DeletePluginRequest(name="tap-flx-sample"),
        "PluginService/SetPluginSetting": plugins.SetPluginSettingRequest(
            name="tap-flx-sample", setting="rows", value=struct_pb2.Value(number_value=3)
        ),
        "PluginService/UnsetPluginSetting": plugins.UnsetPluginSettingRequest(
            name="tap-flx-sample", setting="rows"
        ),
        "StateService/SetState": state.SetStateRequest(state_id="shared"),
        "StateService/ClearState": state.ClearStateRequest(state_id="shared"),
        "StateService/RestoreState": state.RestoreStateRequest(state_id="shared", version=1),
        "StateService/ImportStates": state.ImportStatesRequest(
            export=state.StateExport(format="flx-state-export/1")
        ),
        "EventService/ListEvents": events.ListEventsRequest(),
    }


def test_a_viewer_reads_but_every_change_is_permission_denied(grpc_server: Running) -> None:
    grpc_server.admin.create_pipeline(
        "shared", extractor="tap-flx-sample", loader="target-flx-jsonl"
    )
    methods = dict(all_methods())
    token = grpc_server.viewer.token
    for name, request in viewer_refused_requests().items():
        code = invoke(grpc_server.target, methods[name], request, token)
        assert code == grpc.StatusCode.PERMISSION_DENIED, (name, code)
    # The details name the permission it lacks.
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.viewer.run_pipeline("shared")
    reason, details = error_info(caught.value)
    assert (reason, details["permission"]) == ("permission_denied", "pipeline:run")
    # What a viewer may read, it reads.
    assert [p.name for p in grpc_server.viewer.list_pipelines()] == ["shared"]
    assert grpc_server.viewer.get_pipeline("shared").extractor == "tap-flx-sample"
    assert grpc_server.viewer.current_user().email == EMAILS[Role.VIEWER]


class Walk:
    """Calls methods as a client and records which ones answered OK."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.done: set[str] = set()

    def __call__(self, service: str, method: str, request: Any) -> Any:
        stubs = {
            "AuthService": self.client.stubs.auth,
            "UserService": self.client.stubs.users,
            "PipelineService": self.client.stubs.pipelines,
            "ExecutionService": self.client.stubs.executions,
            "PluginService": self.client.stubs.plugins,
            "StateService": self.client.stubs.state,
            "ScheduleService": self.client.stubs.schedules,
            "EventService": self.client.stubs.events,
            "ExtensionService": self.client.stubs.extensions,
        }
        answer = self.client.call(getattr(stubs[service], method), request)
        self.done.add(f"{service}/{method}")
        return answer

    def refused(self, service: str, method: str, request: Any) -> tuple[Any, str, dict[str, str]]:
        with pytest.raises(grpc.RpcError) as caught:
            self(service, method, request)
        self.done.add(f"{service}/{method}")
        reason, details = error_info(caught.value)
        return caught.value.code(), reason or "", details


def test_an_administrator_calls_every_unary_method(grpc_server: Running) -> None:
    call = Walk(grpc_server.admin)
    mask = field_mask_pb2.FieldMask
    new_user = "walker@example.com"

    # Pipelines: create (secrets masked), read, change with a version check, validate.
    made = call(
        "PipelineService",
        "CreatePipeline",
        pipelines.CreatePipelineRequest(
            pipeline=pipeline_spec(
                "walk",
                extractor="tap-flx-sample",
                loader="target-flx-jsonl",
                config={"tap-flx-sample": {"rows": 3}},
                tags=["a"],
                schedule="@daily",
            )
        ),
    )
    assert (made.name, made.version, made.schedule) == ("walk", 1, "@daily")
    assert made.config["tap-flx-sample"]["rows"] == 3
    got = call("PipelineService", "GetPipeline", pipelines.GetPipelineRequest(pipeline=made.id))
    assert got.name == "walk"
    page = call("PipelineService", "ListPipelines", pipelines.ListPipelinesRequest(tag="a"))
    assert [p.name for p in page.pipelines] == ["walk"]
    changed = call(
        "PipelineService",
        "UpdatePipeline",
        pipelines.UpdatePipelineRequest(
            pipeline="walk",
            changes=pipelines.PipelineSpec(description="moved", schedule=""),
            update_mask=mask(paths=["description", "schedule"]),
            expected_version=1,
        ),
    )
    assert (changed.description, changed.HasField("schedule"), changed.version) == (
        "moved",
        False,
        2,
    )
    code, reason, details = call.refused(
        "PipelineService",
        "UpdatePipeline",
        pipelines.UpdatePipelineRequest(
            pipeline="walk",
            changes=pipelines.PipelineSpec(description="stale"),
            update_mask=mask(paths=["description"]),
            expected_version=1,
        ),
    )
    assert (code, reason, details["expected"]) == (grpc.StatusCode.ABORTED, "conflict", "1")
    disabled = call(
        "PipelineService", "DisablePipeline", pipelines.DisablePipelineRequest(pipeline="walk")
    )
    assert not disabled.enabled
    enabled = call(
        "PipelineService", "EnablePipeline", pipelines.EnablePipelineRequest(pipeline="walk")
    )
    assert enabled.enabled
    validation = call(
        "PipelineService", "ValidatePipeline", pipelines.ValidatePipelineRequest(pipeline="walk")
    )
    assert validation.pipeline == "walk"
    # Bad input names the field (google.rpc.BadRequest), a missing pipeline is NOT_FOUND.
    with pytest.raises(grpc.RpcError) as caught:
        call(
            "PipelineService",
            "CreatePipeline",
            pipelines.CreatePipelineRequest(pipeline=pipeline_spec("bad name!")),
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "extractor: Field required" in caught.value.details()
    status = rpc_status.from_call(caught.value)
    assert status is not None
    bad = error_details_pb2.BadRequest()
    assert any(detail.Unpack(bad) for detail in status.details)
    assert {v.field for v in bad.field_violations} == {"extractor", "loader"}
    code, reason, details = call.refused(
        "PipelineService", "GetPipeline", pipelines.GetPipelineRequest(pipeline="nowhere")
    )
    assert (code, reason) == (grpc.StatusCode.NOT_FOUND, "not_found")
    assert len(details["request_id"]) == 32

    # Executions: run (idempotent by key), list, get, read the log, retry, cancel.
    run = executions.RunPipelineRequest(pipeline="walk", idempotency_key="walk-1")
    first = call("ExecutionService", "RunPipeline", run)
    assert call("ExecutionService", "RunPipeline", run).id == first.id
    finished = list(grpc_server.admin.stream_logs(first.id, timeout=60))[-1].end
    assert finished.status == "succeeded"
    assert finished.records == sum(finished.stream_counts.values()) > 0
    listed = call(
        "ExecutionService",
        "ListExecutions",
        executions.ListExecutionsRequest(pipeline="walk", statuses=["succeeded"]),
    )
    assert [e.id for e in listed.executions] == [first.id]
    by_prefix = executions.GetExecutionRequest(execution_id=first.id[:8])
    assert call("ExecutionService", "GetExecution", by_prefix).id == first.id
    log = call(
        "ExecutionService",
        "GetExecutionLog",
        executions.GetExecutionLogRequest(execution_id=first.id, tail=1),
    )
    assert log.execution.id == first.id and "succeeded" in log.chunk.data
    retry = executions.RetryExecutionRequest(execution_id=first.id)
    code, reason, _ = call.refused("ExecutionService", "RetryExecution", retry)
    assert code == grpc.StatusCode.INVALID_ARGUMENT
    code, reason, _ = call.refused(
        "ExecutionService",
        "CancelExecution",
        executions.CancelExecutionRequest(execution_id=first.id),
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "invalid_transition")

    # State: set, get, history, restore, clear, export, import.
    value = struct_pb2.Struct()
    value.update({"bookmarks": {"users": {"id": 7}}})
    call("StateService", "SetState", state.SetStateRequest(state_id="walk", value=value))
    current = call("StateService", "GetState", state.GetStateRequest(state_id="walk"))
    assert current.value["bookmarks"]["users"]["id"] == 7
    history = call("StateService", "GetStateHistory", state.GetStateHistoryRequest(state_id="walk"))
    older = min(v.version for v in history.versions)
    restored = call(
        "StateService", "RestoreState", state.RestoreStateRequest(state_id="walk", version=older)
    )
    assert restored.version > current.version
    cleared = call("StateService", "ClearState", state.ClearStateRequest(state_id="walk"))
    assert not cleared.value
    exported = call("StateService", "ExportStates", state.ExportStatesRequest(state_ids=["walk"]))
    assert exported.format == "flx-state-export/1" and "walk" in exported.states
    imported = call("StateService", "ImportStates", state.ImportStatesRequest(export=exported))
    assert [s.state_id for s in imported.states] == ["walk"]
    assert "walk" in {
        s.state_id for s in call("StateService", "ListStates", state.ListStatesRequest()).states
    }

    # Plugins: list, get, settings, config, streams, add, change, remove, installs.
    listed_plugins = call("PluginService", "ListPlugins", plugins.ListPluginsRequest())
    assert "tap-flx-sample" in {p.name for p in listed_plugins.plugins}
    builtin = call(
        "PluginService", "RegisterBuiltinPlugins", plugins.RegisterBuiltinPluginsRequest()
    )
    assert {"tap-flx-sample", "target-flx-jsonl"} <= {p.name for p in builtin.plugins}
    call("PluginService", "GetPlugin", plugins.GetPluginRequest(name="tap-flx-sample"))
    secret = call(
        "PluginService",
        "SetPluginSetting",
        plugins.SetPluginSettingRequest(
            name="tap-flx-sample",
            setting="api_key",
            value=struct_pb2.Value(string_value="hunter2-secret"),
            secret=True,
        ),
    )
    assert "hunter2" not in str(secret)
    config = call(
        "PluginService",
        "GetPluginConfig",
        plugins.GetPluginConfigRequest(name="tap-flx-sample", pipeline="walk"),
    )
    rows = {s.name: s for s in config.settings}
    assert rows["rows"].source == "pipeline" and "hunter2" not in str(config)
    call(
        "PluginService",
        "UnsetPluginSetting",
        plugins.UnsetPluginSettingRequest(name="tap-flx-sample", setting="api_key"),
    )
    streams = call(
        "PluginService",
        "ListPluginStreams",
        plugins.ListPluginStreamsRequest(name="tap-flx-sample", pipeline="walk"),
    )
    assert streams.streams
    added = call(
        "PluginService",
        "AddPlugin",
        plugins.AddPluginRequest(
            plugin=plugins.PluginSpec(plugin_type="loader", name="target-walk", executable="cat")
        ),
    )
    assert added.plugin_type == "loader"
    updated = call(
        "PluginService",
        "UpdatePlugin",
        plugins.UpdatePluginRequest(
            name="target-walk",
            changes=plugins.PluginSpec(executable="tee"),
            update_mask=mask(paths=["executable"]),
        ),
    )
    assert updated.executable == "tee"
    call("PluginService", "DeletePlugin", plugins.DeletePluginRequest(name="target-walk"))
    code, _, _ = call.refused(
        "PluginService", "InstallPlugins", plugins.InstallPluginsRequest(names=[])
    )
    assert code == grpc.StatusCode.INVALID_ARGUMENT  # no plugin here has a pip_url
    code, _, _ = call.refused(
        "PluginService", "GetInstallJob", plugins.GetInstallJobRequest(job_id="nosuchjob")
    )
    assert code == grpc.StatusCode.NOT_FOUND

    # Schedules, the audit trail, extensions.
    call("ScheduleService", "ListSchedules", schedules.ListSchedulesRequest())
    audit = call(
        "EventService",
        "ListEvents",
        events.ListEventsRequest(aggregate_id=made.id, page_size=1),
    )
    assert audit.events[0].event_type == "PipelineCreated" and audit.next_page_token
    call("ExtensionService", "ListExtensions", extensions.ListExtensionsRequest())
    code, _, _ = call.refused(
        "ExtensionService", "GetExtension", extensions.GetExtensionRequest(name="nowhere")
    )
    assert code == grpc.StatusCode.NOT_FOUND

    # Users and sessions.
    created = call(
        "UserService",
        "CreateUser",
        users.CreateUserRequest(email=new_user, password=PASSWORD, roles=["viewer"]),
    )
    assert list(created.roles) == ["viewer"]
    promoted = call(
        "UserService",
        "UpdateUser",
        users.UpdateUserRequest(
            email=new_user.upper(), roles=["operator"], update_mask=mask(paths=["roles"])
        ),
    )
    assert list(promoted.roles) == ["operator"]
    call(
        "UserService",
        "ResetUserPassword",
        users.ResetUserPasswordRequest(email=new_user, password=PASSWORD + "!"),
    )
    assert call("UserService", "GetUser", users.GetUserRequest(email=new_user)).email == new_user
    assert new_user in {
        u.email for u in call("UserService", "ListUsers", users.ListUsersRequest()).users
    }
    call("UserService", "ListUserSessions", users.ListUserSessionsRequest(email=new_user))
    call("UserService", "RevokeUserSessions", users.RevokeUserSessionsRequest(email=new_user))
    code, _, _ = call.refused(
        "UserService",
        "RevokeUserSession",
        users.RevokeUserSessionRequest(email=new_user, session_id="nosuchsession"),
    )
    assert code == grpc.StatusCode.NOT_FOUND
    call("UserService", "DeleteUser", users.DeleteUserRequest(email=new_user))

    # The caller's own account and sessions; a session ended by id stops its token.
    assert (
        call("AuthService", "GetCurrentUser", auth.GetCurrentUserRequest()).email
        == EMAILS[Role.ADMIN]
    )
    mine = call("AuthService", "ListOwnSessions", auth.ListOwnSessionsRequest())
    assert mine.sessions
    extra = type(grpc_server.admin)(grpc_server.target)
    pair = extra.login(EMAILS[Role.ADMIN], PASSWORD)
    revoked = call(
        "AuthService",
        "RevokeOwnSession",
        auth.RevokeOwnSessionRequest(session_id=pair.session_id),
    )
    assert list(revoked.revoked) == [pair.session_id]
    with pytest.raises(grpc.RpcError) as caught:
        extra.current_user()
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    extra.close()

    # Pipelines go last: deleting one with a stale version is refused.
    code, reason, _ = call.refused(
        "PipelineService",
        "DeletePipeline",
        pipelines.DeletePipelineRequest(pipeline="walk", expected_version=1),
    )
    assert (code, reason) == (grpc.StatusCode.FAILED_PRECONDITION, "precondition_failed")
    call("PipelineService", "DeletePipeline", pipelines.DeletePipelineRequest(pipeline="walk"))

    unary = {
        name for name, method in all_methods() if not method.server_streaming and name not in PUBLIC
    }
    assert unary <= call.done, unary - call.done


def test_login_refresh_and_logout(grpc_server: Running) -> None:
    client = type(grpc_server.admin)(grpc_server.target)
    first = client.login(EMAILS[Role.OPERATOR], PASSWORD)
    second = client.refresh()
    assert second.access_token != first.access_token
    # The spent refresh token is refused (and ends the session).
    with pytest.raises(grpc.RpcError) as caught:
        client.stubs.auth.Refresh(auth.RefreshRequest(refresh_token=first.refresh_token))
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as caught:
        client.login(EMAILS[Role.OPERATOR], "wrong password")
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    again = type(grpc_server.admin)(grpc_server.target)
    again.login(EMAILS[Role.OPERATOR], PASSWORD)
    token = again.token
    again.logout()
    with pytest.raises(grpc.RpcError) as caught:
        grpc_server.anonymous.stubs.auth.GetCurrentUser(
            auth.GetCurrentUserRequest(), metadata=[("authorization", f"Bearer {token}")]
        )
    assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED
    client.close()
    again.close()


def test_every_method_of_every_service_has_its_implementation() -> None:
    """The generated servicer bases answer UNIMPLEMENTED for a method nobody overrides."""
    from flx_grpc._server import _SERVICES

    missing = []
    for module, _, servicer in _SERVICES:
        for service in module.DESCRIPTOR.services_by_name.values():
            base = next(b for b in servicer.__mro__ if b.__name__ == f"{service.name}Servicer")
            missing += [
                f"{service.name}/{m.name}"
                for m in service.methods
                if getattr(servicer, m.name) is getattr(base, m.name)
            ]
    assert missing == []

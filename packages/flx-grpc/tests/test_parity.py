"""The gRPC API offers what the REST API offers: each REST operation (its OpenAPI
operation id) maps to a gRPC method, and each gRPC method to a REST operation, but for the
differences listed here with their reason. A new route or method fails this test until it
has its counterpart or is listed."""

from __future__ import annotations

from typing import Any

from flx_api import create_app
from flx_core.config import FlxSettings
from flx_grpc._generated.flx.v1 import (
    auth_service_pb2,
    event_service_pb2,
    execution_service_pb2,
    extension_service_pb2,
    pipeline_service_pb2,
    plugin_service_pb2,
    schedule_service_pb2,
    state_service_pb2,
    user_service_pb2,
)

#: REST operation id -> gRPC method ("Service/Method").
REST_TO_GRPC: dict[str, str] = {
    # auth
    "login": "AuthService/Login",
    "refresh": "AuthService/Refresh",
    "logout": "AuthService/Logout",
    "get_current_user": "AuthService/GetCurrentUser",
    "list_own_sessions": "AuthService/ListOwnSessions",
    "revoke_own_session": "AuthService/RevokeOwnSession",
    # users
    "list_users": "UserService/ListUsers",
    "create_user": "UserService/CreateUser",
    "get_user": "UserService/GetUser",
    "update_user": "UserService/UpdateUser",
    "reset_user_password": "UserService/ResetUserPassword",
    "delete_user": "UserService/DeleteUser",
    "list_user_sessions": "UserService/ListUserSessions",
    "revoke_user_sessions": "UserService/RevokeUserSessions",
    "revoke_user_session": "UserService/RevokeUserSession",
    # pipelines (a run is requested on ExecutionService, which it creates)
    "list_pipelines": "PipelineService/ListPipelines",
    "create_pipeline": "PipelineService/CreatePipeline",
    "get_pipeline": "PipelineService/GetPipeline",
    "update_pipeline": "PipelineService/UpdatePipeline",
    "delete_pipeline": "PipelineService/DeletePipeline",
    "enable_pipeline": "PipelineService/EnablePipeline",
    "disable_pipeline": "PipelineService/DisablePipeline",
    "validate_pipeline": "PipelineService/ValidatePipeline",
    "run_pipeline": "ExecutionService/RunPipeline",
    # executions and streams
    "list_executions": "ExecutionService/ListExecutions",
    "get_execution": "ExecutionService/GetExecution",
    "get_execution_log": "ExecutionService/GetExecutionLog",
    "cancel_execution": "ExecutionService/CancelExecution",
    "retry_execution": "ExecutionService/RetryExecution",
    "stream_execution_log": "ExecutionService/StreamLogs",
    "stream_events": "ExecutionService/Watch",
    # plugins
    "list_plugins": "PluginService/ListPlugins",
    "add_plugin": "PluginService/AddPlugin",
    "register_builtin_plugins": "PluginService/RegisterBuiltinPlugins",
    "install_plugins": "PluginService/InstallPlugins",
    "get_install_job": "PluginService/GetInstallJob",
    "get_plugin": "PluginService/GetPlugin",
    "update_plugin": "PluginService/UpdatePlugin",
    "delete_plugin": "PluginService/DeletePlugin",
    "set_plugin_setting": "PluginService/SetPluginSetting",
    "unset_plugin_setting": "PluginService/UnsetPluginSetting",
    "get_plugin_config": "PluginService/GetPluginConfig",
    "list_plugin_streams": "PluginService/ListPluginStreams",
    "try_plugin_streams": "PluginService/ListPluginStreams",
    # state
    "list_states": "StateService/ListStates",
    "export_states": "StateService/ExportStates",
    "import_states": "StateService/ImportStates",
    "get_state": "StateService/GetState",
    "set_state": "StateService/SetState",
    "clear_state": "StateService/ClearState",
    "get_state_history": "StateService/GetStateHistory",
    "restore_state": "StateService/RestoreState",
    # schedules, the audit trail, extensions
    "list_schedules": "ScheduleService/ListSchedules",
    "list_events": "EventService/ListEvents",
    "list_extensions": "ExtensionService/ListExtensions",
    "get_extension": "ExtensionService/GetExtension",
    # health: the standard gRPC health service answers both probes
    "live": "grpc.health.v1.Health/Check",
    "ready": "grpc.health.v1.Health/Check",
}

#: Where the two APIs differ by design, and why.
INTENTIONAL_DIFFERENCES: dict[str, str] = {
    "stream_execution_log": "named StreamLogs; one message per log chunk, then the finished "
    "execution, where the SSE stream sends 'log' and 'end' events",
    "try_plugin_streams": "one gRPC method, ListPluginStreams: its request carries the config, "
    "select rules and metadata to try (REST needs a POST for a body)",
    "stream_events": "Watch is bidirectional: the client subscribes and unsubscribes with "
    "filters, where the SSE stream takes the position to follow from",
    "live": "grpc.health.v1.Health/Check answers for the process (service '')",
    "ready": "grpc.health.v1.Health/Check reports the readiness probes (SERVING or NOT_SERVING)",
}

MODULES = [
    auth_service_pb2,
    user_service_pb2,
    pipeline_service_pb2,
    execution_service_pb2,
    plugin_service_pb2,
    state_service_pb2,
    schedule_service_pb2,
    event_service_pb2,
    extension_service_pb2,
]


def rest_operations() -> set[str]:
    async def build() -> Any:
        raise AssertionError("the OpenAPI document needs no process")

    document = create_app(FlxSettings(), build).openapi()
    return {
        operation["operationId"]
        for item in document["paths"].values()
        for operation in item.values()
        if isinstance(operation, dict) and "operationId" in operation
    }


def grpc_methods() -> set[str]:
    return {
        f"{service.name}/{method.name}"
        for module in MODULES
        for service in module.DESCRIPTOR.services_by_name.values()
        for method in service.methods
    }


def test_every_rest_operation_has_its_grpc_method_and_back() -> None:
    rest = rest_operations()
    methods = grpc_methods()
    assert rest - REST_TO_GRPC.keys() == set(), "REST operations without a gRPC method"
    assert REST_TO_GRPC.keys() - rest == set(), "mapped operations REST no longer has"
    mapped = {m for m in REST_TO_GRPC.values() if not m.startswith("grpc.")}
    assert methods - mapped == set(), "gRPC methods without a REST operation"
    assert mapped - methods == set(), "mapped methods gRPC does not have"
    # An operation mapped to anything but its namesake is a listed difference.
    renamed = {
        op
        for op, method in REST_TO_GRPC.items()
        if method.rpartition("/")[2] != "".join(w.title() for w in op.split("_"))
    }
    assert renamed == set(INTENTIONAL_DIFFERENCES)

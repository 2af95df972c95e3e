"""The gRPC server of one process: FLX's services over the application's bus, health,
reflection, and the interceptors.

``serve_grpc`` is what the composition root enters beside the REST API: it starts the
server on ``FLX_GRPC_HOST:FLX_GRPC_PORT`` (TLS when ``FLX_GRPC_TLS_CERT`` and
``FLX_GRPC_TLS_KEY`` are set) and stops it, open streams given ``STOP_GRACE_SECONDS``,
when the block ends.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import grpc
from grpc import aio
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from flx_core.application import Application
from flx_core.config import FlxSettings
from flx_grpc._generated.flx.v1 import (
    auth_service_pb2,
    auth_service_pb2_grpc,
    event_service_pb2,
    event_service_pb2_grpc,
    execution_service_pb2,
    execution_service_pb2_grpc,
    extension_service_pb2,
    extension_service_pb2_grpc,
    pipeline_service_pb2,
    pipeline_service_pb2_grpc,
    plugin_service_pb2,
    plugin_service_pb2_grpc,
    schedule_service_pb2,
    schedule_service_pb2_grpc,
    state_service_pb2,
    state_service_pb2_grpc,
    user_service_pb2,
    user_service_pb2_grpc,
)
from flx_grpc._health import Readiness, ReadinessHealth, refreshing
from flx_grpc._interceptors import AuthInterceptor, ErrorInterceptor, RequestLogInterceptor
from flx_grpc.services.auth import AuthServicer
from flx_grpc.services.catalog import EventServicer, ExtensionServicer, ScheduleServicer
from flx_grpc.services.pipelines import PipelineServicer
from flx_grpc.services.plugins import PluginServicer
from flx_grpc.services.state import StateServicer
from flx_grpc.services.streams import ExecutionServicer
from flx_grpc.services.users import UserServicer

#: How long open calls (log streams, Watch) may go on once the server stops.
STOP_GRACE_SECONDS = 5.0

_SERVICES: list[tuple[Any, Any, Any]] = [
    (auth_service_pb2, auth_service_pb2_grpc.add_AuthServiceServicer_to_server, AuthServicer),
    (user_service_pb2, user_service_pb2_grpc.add_UserServiceServicer_to_server, UserServicer),
    (
        pipeline_service_pb2,
        pipeline_service_pb2_grpc.add_PipelineServiceServicer_to_server,
        PipelineServicer,
    ),
    (
        execution_service_pb2,
        execution_service_pb2_grpc.add_ExecutionServiceServicer_to_server,
        ExecutionServicer,
    ),
    (
        plugin_service_pb2,
        plugin_service_pb2_grpc.add_PluginServiceServicer_to_server,
        PluginServicer,
    ),
    (state_service_pb2, state_service_pb2_grpc.add_StateServiceServicer_to_server, StateServicer),
    (
        schedule_service_pb2,
        schedule_service_pb2_grpc.add_ScheduleServiceServicer_to_server,
        ScheduleServicer,
    ),
    (event_service_pb2, event_service_pb2_grpc.add_EventServiceServicer_to_server, EventServicer),
    (
        extension_service_pb2,
        extension_service_pb2_grpc.add_ExtensionServiceServicer_to_server,
        ExtensionServicer,
    ),
]

#: The full names of FLX's services (``flx.v1.PipelineService``, ...).
SERVICE_NAMES: tuple[str, ...] = tuple(
    service.full_name
    for module, _, _ in _SERVICES
    for service in module.DESCRIPTOR.services_by_name.values()
)


class GrpcRefused(Exception):
    """The gRPC server cannot start; the message is one line naming the problem."""


class RuntimeLike(Protocol):
    """What the server needs of a built process (``flx_core.bootstrap.Runtime`` is one)."""

    app: Application
    settings: FlxSettings


@dataclass(frozen=True)
class GrpcEndpoint:
    """Where a started server listens."""

    host: str
    port: int
    tls: bool

    @property
    def target(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def server_options(settings: FlxSettings, *, reuse_port: bool) -> list[tuple[str, Any]]:
    size = settings.grpc_max_message_bytes
    return [
        ("grpc.max_receive_message_length", size),
        ("grpc.max_send_message_length", size),
        # Without it gRPC lets a second server take the same port silently.
        ("grpc.so_reuseport", 1 if reuse_port else 0),
    ]


def create_server(
    app: Application,
    settings: FlxSettings,
    *,
    ready: Readiness | None = None,
    interceptors: Sequence[aio.ServerInterceptor] = (),
    reuse_port: bool = False,
) -> tuple[aio.Server, ReadinessHealth]:
    """A server with every FLX service, health and reflection (not yet listening).

    ``interceptors`` (metrics, traces) run outermost, around FLX's own: request logging,
    error mapping, authentication."""
    server = aio.server(
        interceptors=[
            *interceptors,
            RequestLogInterceptor(),
            ErrorInterceptor(),
            AuthInterceptor(app),
        ],
        options=server_options(settings, reuse_port=reuse_port),
    )
    for _, add, servicer in _SERVICES:
        add(servicer(), server)
    health_servicer = ReadinessHealth(ready, SERVICE_NAMES)

    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    health_name = health_pb2.DESCRIPTOR.services_by_name["Health"].full_name
    reflection.enable_server_reflection(
        [*SERVICE_NAMES, health_name, reflection.SERVICE_NAME], server
    )
    return server, health_servicer


def _credentials(settings: FlxSettings) -> grpc.ServerCredentials | None:
    if settings.grpc_tls_cert is None or settings.grpc_tls_key is None:
        return None
    try:
        cert = settings.grpc_tls_cert.read_bytes()
        key = settings.grpc_tls_key.read_bytes()
    except OSError as exc:
        raise GrpcRefused(
            f"cannot read the gRPC TLS certificate or key ({exc.filename}): {exc.strerror}"
        ) from None
    return grpc.ssl_server_credentials([(key, cert)])


def bind(server: aio.Server, settings: FlxSettings, host: str, port: int) -> GrpcEndpoint:
    credentials = _credentials(settings)
    address = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    try:
        if credentials is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, credentials)
    except RuntimeError:
        bound = 0
    if not bound:
        raise GrpcRefused(
            f"cannot listen for gRPC on {address} (in use by another process?): stop it or "
            "choose another port with FLX_GRPC_PORT"
        )
    return GrpcEndpoint(host, bound, credentials is not None)


@contextlib.asynccontextmanager
async def serve_grpc(
    runtime: RuntimeLike,
    settings: FlxSettings,
    checks: Readiness | None = None,
    *,
    interceptors: Sequence[aio.ServerInterceptor] = (),
    host: str | None = None,
    port: int | None = None,
    reuse_port: bool = False,
) -> AsyncIterator[GrpcEndpoint]:
    """Serve gRPC while the block runs. ``checks`` says whether the process is ready (the
    health service's answer); ``port`` 0 picks a free port (the endpoint names it)."""
    server, health_servicer = create_server(
        runtime.app, settings, ready=checks, interceptors=interceptors, reuse_port=reuse_port
    )
    endpoint = bind(
        server,
        settings,
        settings.grpc_host if host is None else host,
        settings.grpc_port if port is None else port,
    )
    await server.start()
    try:
        async with refreshing(health_servicer):
            yield endpoint
    finally:
        await server.stop(STOP_GRACE_SECONDS)

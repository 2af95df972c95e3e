"""A Python client of FLX's gRPC API, blocking (``FlxGrpcClient``) or asyncio
(``AsyncFlxGrpcClient``), answering with the generated messages.

    with FlxGrpcClient("127.0.0.1:50051", token=access_token) as flx:
        for pipeline in flx.list_pipelines():
            print(pipeline.name, pipeline.version)

    client = FlxGrpcClient("flx.example.com:443", secure=True)
    client.login("ada@example.com", password)      # keeps the tokens
    execution = client.run_pipeline("orders")
    for text in client.follow_logs(execution.id):   # to the end of the run
        print(text, end="")

Logged in (or given a ``refresh_token``), a client whose access token expired refreshes it
once and repeats the call. Every stub is at hand for the methods without a shortcut
(``client.stubs.state.GetState(request, metadata=client.metadata())``, or
``client.call(client.stubs.state.GetState, request)`` with the refresh). The client imports
none of the server's code.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc
from google.protobuf import json_format
from google.rpc import error_details_pb2, status_pb2
from grpc import aio

from flx_grpc._generated.flx.v1 import (
    auth_service_pb2 as auth_pb,
    auth_service_pb2_grpc,
    event_service_pb2_grpc,
    execution_service_pb2 as execution_pb,
    execution_service_pb2_grpc,
    extension_service_pb2_grpc,
    pipeline_service_pb2 as pipeline_pb,
    pipeline_service_pb2_grpc,
    plugin_service_pb2_grpc,
    schedule_service_pb2_grpc,
    state_service_pb2_grpc,
    types_pb2,
    user_service_pb2_grpc,
)

#: The default deadline of a unary call, in seconds (streams have none).
DEFAULT_TIMEOUT = 30.0


def error_info(error: grpc.RpcError) -> tuple[str | None, dict[str, str]]:
    """The FLX error code and details of a failed call (from its ``google.rpc.Status``)."""
    trailing = error.trailing_metadata() if hasattr(error, "trailing_metadata") else None
    for key, value in trailing or ():
        if key == "grpc-status-details-bin":
            status = status_pb2.Status.FromString(value)
            for detail in status.details:
                info = error_details_pb2.ErrorInfo()
                if detail.Unpack(info):
                    return info.reason, dict(info.metadata)
    return None, {}


def _expired(error: grpc.RpcError) -> bool:
    if error.code() != grpc.StatusCode.UNAUTHENTICATED:
        return False
    _, details = error_info(error)
    return details.get("reason") == "expired"


@dataclass
class Stubs:
    """One stub per FLX service, over one channel."""

    auth: auth_service_pb2_grpc.AuthServiceStub
    users: user_service_pb2_grpc.UserServiceStub
    pipelines: pipeline_service_pb2_grpc.PipelineServiceStub
    executions: execution_service_pb2_grpc.ExecutionServiceStub
    plugins: plugin_service_pb2_grpc.PluginServiceStub
    state: state_service_pb2_grpc.StateServiceStub
    schedules: schedule_service_pb2_grpc.ScheduleServiceStub
    events: event_service_pb2_grpc.EventServiceStub
    extensions: extension_service_pb2_grpc.ExtensionServiceStub

    @classmethod
    def over(cls, channel: Any) -> Stubs:
        return cls(
            auth=auth_service_pb2_grpc.AuthServiceStub(channel),
            users=user_service_pb2_grpc.UserServiceStub(channel),
            pipelines=pipeline_service_pb2_grpc.PipelineServiceStub(channel),
            executions=execution_service_pb2_grpc.ExecutionServiceStub(channel),
            plugins=plugin_service_pb2_grpc.PluginServiceStub(channel),
            state=state_service_pb2_grpc.StateServiceStub(channel),
            schedules=schedule_service_pb2_grpc.ScheduleServiceStub(channel),
            events=event_service_pb2_grpc.EventServiceStub(channel),
            extensions=extension_service_pb2_grpc.ExtensionServiceStub(channel),
        )


def pipeline_spec(name: str, **fields: Any) -> pipeline_pb.PipelineSpec:
    """A PipelineSpec from keyword fields as the REST API's JSON takes them
    (``extractor="tap-x", config={"tap-x": {"rows": 3}}``)."""
    spec = pipeline_pb.PipelineSpec()
    json_format.ParseDict({"name": name, **fields}, spec)
    return spec


def _channel_options(max_message_bytes: int) -> list[tuple[str, Any]]:
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
    ]


class _Tokens:
    """The tokens a client holds, and its metadata."""

    def __init__(self, token: str | None, refresh_token: str | None) -> None:
        self.access = token
        self.refresh = refresh_token

    def keep(self, pair: auth_pb.TokenPair) -> None:
        self.access = pair.access_token
        self.refresh = pair.refresh_token

    def metadata(self) -> list[tuple[str, str]]:
        return [("authorization", f"Bearer {self.access}")] if self.access else []


class FlxGrpcClient:
    """A blocking client of FLX's gRPC API."""

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        refresh_token: str | None = None,
        secure: bool = False,
        root_certificates: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        options = _channel_options(max_message_bytes)
        if secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = grpc.secure_channel(target, credentials, options=options)
        else:
            self.channel = grpc.insecure_channel(target, options=options)
        self.stubs = Stubs.over(self.channel)
        self.timeout = timeout
        self._tokens = _Tokens(token, refresh_token)

    # -- plumbing ------------------------------------------------------------------------
    @property
    def token(self) -> str | None:
        return self._tokens.access

    def metadata(self) -> list[tuple[str, str]]:
        return self._tokens.metadata()

    def call(self, method: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        """A unary call with the token; an expired token is refreshed once."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return method(request, metadata=self.metadata(), **kwargs)
        except grpc.RpcError as error:
            if not (_expired(error) and self._tokens.refresh):
                raise
        self.refresh()
        return method(request, metadata=self.metadata(), **kwargs)

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> FlxGrpcClient:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- auth ----------------------------------------------------------------------------
    def login(self, email: str, password: str) -> auth_pb.TokenPair:
        """Log in; the client keeps the tokens for its next calls."""
        request = auth_pb.LoginRequest(email=email, password=password)
        pair: auth_pb.TokenPair = self.stubs.auth.Login(request, timeout=self.timeout)
        self._tokens.keep(pair)
        return pair

    def refresh(self) -> auth_pb.TokenPair:
        """New tokens for the refresh token held (the old one is spent)."""
        if not self._tokens.refresh:
            raise ValueError("this client holds no refresh token: log in first")
        request = auth_pb.RefreshRequest(refresh_token=self._tokens.refresh)
        pair: auth_pb.TokenPair = self.stubs.auth.Refresh(request, timeout=self.timeout)
        self._tokens.keep(pair)
        return pair

    def logout(self) -> None:
        request = auth_pb.LogoutRequest()
        if self._tokens.refresh:
            request.refresh_token = self._tokens.refresh
        self.stubs.auth.Logout(request, metadata=self.metadata(), timeout=self.timeout)
        self._tokens = _Tokens(None, None)

    def current_user(self) -> types_pb2.User:
        user: types_pb2.User = self.call(
            self.stubs.auth.GetCurrentUser, auth_pb.GetCurrentUserRequest()
        )
        return user

    # -- pipelines -----------------------------------------------------------------------
    def list_pipelines(self, **filters: Any) -> list[types_pb2.Pipeline]:
        """Every pipeline (all pages), filtered by ListPipelinesRequest's fields."""
        found: list[types_pb2.Pipeline] = []
        token = ""
        while True:
            request = pipeline_pb.ListPipelinesRequest(page_size=500, page_token=token, **filters)
            page = self.call(self.stubs.pipelines.ListPipelines, request)
            found.extend(page.pipelines)
            token = page.next_page_token
            if not token:
                return found

    def get_pipeline(self, pipeline: str) -> types_pb2.Pipeline:
        request = pipeline_pb.GetPipelineRequest(pipeline=pipeline)
        found: types_pb2.Pipeline = self.call(self.stubs.pipelines.GetPipeline, request)
        return found

    def create_pipeline(self, name: str, **fields: Any) -> types_pb2.Pipeline:
        request = pipeline_pb.CreatePipelineRequest(pipeline=pipeline_spec(name, **fields))
        made: types_pb2.Pipeline = self.call(self.stubs.pipelines.CreatePipeline, request)
        return made

    def delete_pipeline(self, pipeline: str) -> None:
        request = pipeline_pb.DeletePipelineRequest(pipeline=pipeline)
        self.call(self.stubs.pipelines.DeletePipeline, request)

    # -- executions ----------------------------------------------------------------------
    def run_pipeline(
        self, pipeline: str, *, idempotency_key: str | None = None, **options: Any
    ) -> types_pb2.Execution:
        request = execution_pb.RunPipelineRequest(pipeline=pipeline, **options)
        if idempotency_key is not None:
            request.idempotency_key = idempotency_key
        run: types_pb2.Execution = self.call(self.stubs.executions.RunPipeline, request)
        return run

    def get_execution(self, execution_id: str) -> types_pb2.Execution:
        request = execution_pb.GetExecutionRequest(execution_id=execution_id)
        found: types_pb2.Execution = self.call(self.stubs.executions.GetExecution, request)
        return found

    def list_executions(self, **filters: Any) -> execution_pb.ListExecutionsResponse:
        request = execution_pb.ListExecutionsRequest(**filters)
        page: execution_pb.ListExecutionsResponse = self.call(
            self.stubs.executions.ListExecutions, request
        )
        return page

    def cancel_execution(self, execution_id: str) -> types_pb2.Execution:
        request = execution_pb.CancelExecutionRequest(execution_id=execution_id)
        found: types_pb2.Execution = self.call(self.stubs.executions.CancelExecution, request)
        return found

    def retry_execution(self, execution_id: str) -> types_pb2.Execution:
        request = execution_pb.RetryExecutionRequest(execution_id=execution_id)
        retry: types_pb2.Execution = self.call(self.stubs.executions.RetryExecution, request)
        return retry

    def stream_logs(
        self, execution_id: str, *, offset: int = 0, timeout: float | None = None
    ) -> Iterator[execution_pb.StreamLogsResponse]:
        """The run's log as it is written: chunks, then the finished execution."""
        request = execution_pb.StreamLogsRequest(execution_id=execution_id, offset=offset)
        # The token is checked when the stream opens: refresh first if it expired.
        self._refresh_if_expired()
        yield from self.stubs.executions.StreamLogs(
            request, metadata=self.metadata(), timeout=timeout
        )

    def follow_logs(self, execution_id: str, *, timeout: float | None = None) -> Iterator[str]:
        """The text of the run's log to the end of the run."""
        for item in self.stream_logs(execution_id, timeout=timeout):
            if item.HasField("chunk"):
                yield item.chunk.data

    def watch(
        self, requests: Iterable[execution_pb.WatchRequest], *, timeout: float | None = None
    ) -> Iterator[execution_pb.WatchResponse]:
        """Events for the subscriptions ``requests`` sends (see ``subscribe``)."""
        self._refresh_if_expired()
        yield from self.stubs.executions.Watch(
            iter(requests), metadata=self.metadata(), timeout=timeout
        )

    def _refresh_if_expired(self) -> None:
        if not self._tokens.refresh:
            return
        try:
            self.current_user()
        except grpc.RpcError as error:
            if not _expired(error):
                raise


def subscribe(subscription_id: str, **filters: Any) -> execution_pb.WatchRequest:
    """A Watch request: ``subscribe("runs", pipelines=["orders"])``."""
    return execution_pb.WatchRequest(
        subscribe=execution_pb.Subscribe(subscription_id=subscription_id, **filters)
    )


def unsubscribe(subscription_id: str) -> execution_pb.WatchRequest:
    return execution_pb.WatchRequest(
        unsubscribe=execution_pb.Unsubscribe(subscription_id=subscription_id)
    )


class AsyncFlxGrpcClient:
    """The asyncio client of FLX's gRPC API (``grpc.aio``); the blocking one's methods, as
    coroutines (streams as async iterators)."""

    def __init__(
        self,
        target: str,
        token: str | None = None,
        *,
        refresh_token: str | None = None,
        secure: bool = False,
        root_certificates: bytes | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        max_message_bytes: int = 16 * 1024 * 1024,
    ) -> None:
        options = _channel_options(max_message_bytes)
        if secure:
            credentials = grpc.ssl_channel_credentials(root_certificates=root_certificates)
            self.channel = aio.secure_channel(target, credentials, options=options)
        else:
            self.channel = aio.insecure_channel(target, options=options)
        self.stubs = Stubs.over(self.channel)
        self.timeout = timeout
        self._tokens = _Tokens(token, refresh_token)

    @property
    def token(self) -> str | None:
        return self._tokens.access

    def metadata(self) -> list[tuple[str, str]]:
        return self._tokens.metadata()

    async def call(self, method: Callable[..., Any], request: Any, **kwargs: Any) -> Any:
        """A unary call with the token; an expired token is refreshed once."""
        kwargs.setdefault("timeout", self.timeout)
        try:
            return await method(request, metadata=self.metadata(), **kwargs)
        except grpc.RpcError as error:
            if not (_expired(error) and self._tokens.refresh):
                raise
        await self.refresh()
        return await method(request, metadata=self.metadata(), **kwargs)

    async def close(self) -> None:
        await self.channel.close()

    async def __aenter__(self) -> AsyncFlxGrpcClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def login(self, email: str, password: str) -> auth_pb.TokenPair:
        request = auth_pb.LoginRequest(email=email, password=password)
        pair: auth_pb.TokenPair = await self.stubs.auth.Login(request, timeout=self.timeout)
        self._tokens.keep(pair)
        return pair

    async def refresh(self) -> auth_pb.TokenPair:
        if not self._tokens.refresh:
            raise ValueError("this client holds no refresh token: log in first")
        request = auth_pb.RefreshRequest(refresh_token=self._tokens.refresh)
        pair: auth_pb.TokenPair = await self.stubs.auth.Refresh(request, timeout=self.timeout)
        self._tokens.keep(pair)
        return pair

    async def current_user(self) -> types_pb2.User:
        user: types_pb2.User = await self.call(
            self.stubs.auth.GetCurrentUser, auth_pb.GetCurrentUserRequest()
        )
        return user

    async def list_pipelines(self, **filters: Any) -> list[types_pb2.Pipeline]:
        found: list[types_pb2.Pipeline] = []
        token = ""
        while True:
            request = pipeline_pb.ListPipelinesRequest(page_size=500, page_token=token, **filters)
            page = await self.call(self.stubs.pipelines.ListPipelines, request)
            found.extend(page.pipelines)
            token = page.next_page_token
            if not token:
                return found

    async def get_pipeline(self, pipeline: str) -> types_pb2.Pipeline:
        request = pipeline_pb.GetPipelineRequest(pipeline=pipeline)
        found: types_pb2.Pipeline = await self.call(self.stubs.pipelines.GetPipeline, request)
        return found

    async def create_pipeline(self, name: str, **fields: Any) -> types_pb2.Pipeline:
        request = pipeline_pb.CreatePipelineRequest(pipeline=pipeline_spec(name, **fields))
        made: types_pb2.Pipeline = await self.call(self.stubs.pipelines.CreatePipeline, request)
        return made

    async def run_pipeline(
        self, pipeline: str, *, idempotency_key: str | None = None, **options: Any
    ) -> types_pb2.Execution:
        request = execution_pb.RunPipelineRequest(pipeline=pipeline, **options)
        if idempotency_key is not None:
            request.idempotency_key = idempotency_key
        run: types_pb2.Execution = await self.call(self.stubs.executions.RunPipeline, request)
        return run

    async def get_execution(self, execution_id: str) -> types_pb2.Execution:
        request = execution_pb.GetExecutionRequest(execution_id=execution_id)
        found: types_pb2.Execution = await self.call(self.stubs.executions.GetExecution, request)
        return found

    async def cancel_execution(self, execution_id: str) -> types_pb2.Execution:
        request = execution_pb.CancelExecutionRequest(execution_id=execution_id)
        found: types_pb2.Execution = await self.call(self.stubs.executions.CancelExecution, request)
        return found

    async def stream_logs(
        self, execution_id: str, *, offset: int = 0, timeout: float | None = None
    ) -> AsyncIterator[execution_pb.StreamLogsResponse]:
        request = execution_pb.StreamLogsRequest(execution_id=execution_id, offset=offset)
        call = self.stubs.executions.StreamLogs(request, metadata=self.metadata(), timeout=timeout)
        async for item in call:
            yield item

    async def follow_logs(
        self, execution_id: str, *, timeout: float | None = None
    ) -> AsyncIterator[str]:
        async for item in self.stream_logs(execution_id, timeout=timeout):
            if item.HasField("chunk"):
                yield item.chunk.data

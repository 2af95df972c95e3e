"""A real gRPC server on a free loopback port, in a thread with its own event loop, for
tests of the server and of its clients. It is stopped when the ``with`` block ends, also
on failure."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Any

from grpc import aio

from flx_core.config import FlxSettings
from flx_grpc._health import Readiness
from flx_grpc._server import GrpcEndpoint, RuntimeLike, serve_grpc

START_SECONDS = 30.0


class GrpcServer:
    """``with GrpcServer(settings, build) as server: server.target``."""

    def __init__(
        self,
        settings: FlxSettings,
        build: Callable[[], Awaitable[Any]],
        *,
        ready: Callable[[RuntimeLike], Readiness] | None = None,
        interceptors: Sequence[aio.ServerInterceptor] = (),
    ) -> None:
        self.settings = settings
        self._build = build
        self._ready = ready
        self._interceptors = interceptors
        self.endpoint: GrpcEndpoint | None = None
        self.runtime: Any = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="grpc-server", daemon=True)

    @property
    def target(self) -> str:
        assert self.endpoint is not None, "the server has not started"
        return self.endpoint.target

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
            self._started.set()

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self.runtime = await self._build()
        try:
            ready = self._ready(self.runtime) if self._ready else None
            async with serve_grpc(
                self.runtime,
                self.settings,
                ready,
                interceptors=self._interceptors,
                host="127.0.0.1",
                port=0,
            ) as endpoint:
                self.endpoint = endpoint
                self._started.set()
                await self._stop.wait()
        finally:
            await self.runtime.aclose()

    def __enter__(self) -> GrpcServer:
        self._thread.start()
        if not self._started.wait(START_SECONDS):
            self.stop()
            raise RuntimeError(f"the gRPC server did not start within {START_SECONDS:g} s")
        if self._error is not None:
            raise RuntimeError(f"the gRPC server failed to start: {self._error!r}")
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=30)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

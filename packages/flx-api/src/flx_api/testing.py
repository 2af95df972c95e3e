"""A real uvicorn server on a free loopback port, in a thread, for tests of the API and of
its clients (the remote CLI). It is stopped when the ``with`` block ends, also on failure."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Any

import uvicorn

from flx_api.app import Services, create_app
from flx_api.deps import RuntimeLike
from flx_core.config import FlxSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ApiServer:
    def __init__(
        self,
        settings: FlxSettings,
        build: Callable[[], Awaitable[RuntimeLike]],
        *,
        services: Services | None = None,
        **options: Any,
    ) -> None:
        self.port = free_port()
        self.app = create_app(settings, build, services=services, **options)
        config = uvicorn.Config(
            self.app,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self.server.run, name="api-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the API server stopped while starting")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the API server did not start within 30 s")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

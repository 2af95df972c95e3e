"""Process metrics: gRPC calls counted by a real grpc.aio server's interceptor, and counts
of several processes added up in multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import grpc
import pytest

from flx_observability.metrics import GRPC_DURATION, GRPC_REQUESTS
from flx_observability.metrics_grpc import MetricsServerInterceptor


def _count(method: str, code: str) -> float:
    return GRPC_REQUESTS.labels(method, code)._value.get()


async def test_grpc_calls_are_counted_by_method_and_code() -> None:
    async def ok(request: bytes, context: Any) -> bytes:
        return request

    async def refused(request: bytes, context: Any) -> bytes:
        await context.abort(grpc.StatusCode.PERMISSION_DENIED, "no")
        raise AssertionError("abort raises")

    async def boom(request: bytes, context: Any) -> bytes:
        raise RuntimeError("handler bug")

    async def stream(request: bytes, context: Any) -> Any:
        for i in range(3):
            yield bytes([i])

    handlers = grpc.method_handlers_generic_handler(
        "test.Svc",
        {
            "Ok": grpc.unary_unary_rpc_method_handler(ok),
            "Refused": grpc.unary_unary_rpc_method_handler(refused),
            "Boom": grpc.unary_unary_rpc_method_handler(boom),
            "Stream": grpc.unary_stream_rpc_method_handler(stream),
        },
    )
    server = grpc.aio.server(interceptors=[MetricsServerInterceptor()])
    server.add_generic_rpc_handlers((handlers,))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    before = {
        k: _count(f"/test.Svc/{k[0]}", k[1])
        for k in [
            ("Ok", "OK"),
            ("Refused", "PERMISSION_DENIED"),
            ("Boom", "UNKNOWN"),
            ("Stream", "OK"),
        ]
    }
    timed = GRPC_DURATION.labels("/test.Svc/Ok")._sum.get()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            assert await channel.unary_unary("/test.Svc/Ok")(b"x") == b"x"
            assert await channel.unary_unary("/test.Svc/Ok")(b"y") == b"y"
            for name, code in (("Refused", "PERMISSION_DENIED"), ("Boom", "UNKNOWN")):
                with pytest.raises(grpc.aio.AioRpcError) as failed:
                    await channel.unary_unary(f"/test.Svc/{name}")(b"x")
                assert failed.value.code().name == code
            got = [m async for m in channel.unary_stream("/test.Svc/Stream")(b"")]
            assert got == [b"\x00", b"\x01", b"\x02"]
            with pytest.raises(grpc.aio.AioRpcError) as missing:
                await channel.unary_unary("/test.Svc/Missing")(b"x")
            assert missing.value.code() is grpc.StatusCode.UNIMPLEMENTED
    finally:
        await server.stop(None)
    moved = {k: _count(f"/test.Svc/{k[0]}", k[1]) - v for k, v in before.items()}
    assert moved == {
        ("Ok", "OK"): 2,
        ("Refused", "PERMISSION_DENIED"): 1,
        ("Boom", "UNKNOWN"): 1,
        ("Stream", "OK"): 1,
    }
    assert GRPC_DURATION.labels("/test.Svc/Ok")._sum.get() > timed
    assert _count("/test.Svc/Missing", "UNIMPLEMENTED") == 0  # no handler: not a label


_COUNT = """
import os
from flx_observability.metrics import HTTP_REQUESTS, WORKER_RUNS_ACTIVE
HTTP_REQUESTS.labels("GET", "/x", "200").inc({n})
WORKER_RUNS_ACTIVE.inc()
print(os.getpid())
"""
_RENDER = """
from flx_observability.metrics import render
from flx_observability.metrics_multiprocess import process_registry
import sys
sys.stdout.write(render(process_registry()).decode())
"""


def test_counts_of_several_processes_add_up_in_multiprocess_mode(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    pids = [
        int(
            subprocess.run(
                [sys.executable, "-c", _COUNT.format(n=n)],
                env=env,
                check=True,
                timeout=60,
                capture_output=True,
                text=True,
            ).stdout
        )
        for n in (2, 3)
    ]

    def render() -> str:
        return subprocess.run(
            [sys.executable, "-c", _RENDER],
            env=env,
            check=True,
            timeout=60,
            capture_output=True,
            text=True,
        ).stdout

    out = render()
    assert 'flx_http_requests_total{method="GET",route="/x",status="200"} 5.0' in out
    assert "flx_worker_runs_active 2.0" in out
    # A process that ended is forgotten by the live gauges, its counts stay.
    from flx_observability.metrics_multiprocess import mark_process_dead

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    mark_process_dead(pids[0])
    out = render()
    assert "flx_worker_runs_active 1.0" in out
    assert 'flx_http_requests_total{method="GET",route="/x",status="200"} 5.0' in out

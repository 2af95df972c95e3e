"""The gRPC API next to the REST API, both served by one `flx serve` process.

    uv run python bench/bench_grpc.py [--seconds 10] [--concurrency 32] [--lines 1000000]
                                      [--database postgresql://...] [--sqlite]

Prepares a database of its own (``flx_bench_grpc`` on the PostgreSQL server of
``--database``, dropped at the end; with ``--sqlite`` the embedded database instead) and a
home in a temporary folder: a user, the built-in plugins, a pipeline, and one finished
execution whose log (a file: ``FLX_LOG_STORE=file``) is made ``--lines`` lines long (a line
of a tap's stderr as the engine writes it, about 100 bytes). Then starts ``flx serve`` on
free ports (REST and gRPC in the same process, logging at warning, the REST rate limit out
of the way) and measures, from this process:

- unary reads: ``PipelineService/GetPipeline`` over one HTTP/2 channel, and
  ``GET /api/v1/pipelines/{id}`` over keep-alive connections, each with ``--concurrency``
  callers sending their next call as soon as the previous one is answered, for
  ``--seconds`` seconds after one second of warm-up: calls per second, p50 and p99;
- server streaming of the whole log, once each: ``ExecutionService/StreamLogs`` and the
  Server-Sent Events of ``GET /api/v1/executions/{id}/logs/stream``, counting the log lines
  received: lines per second.

It prints each figure and the ratio gRPC / REST measured in the same run. The server and
the load share the machine's cores: figures compare with each other, they are not absolute
capacities. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

EMAIL, PASSWORD = "bench@example.com", "bench password, long enough"
SERVER = os.environ.get("FLX_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "flx_bench_grpc"
FLX = str(Path(sys.executable).parent / "flx")
LINE = "2026-01-01T00:00:00.000Z tap-flx-sample | INFO METRIC: counter records=1000 stream=users {}"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


def settings_env(home: Path, url: str | None) -> dict[str, str]:
    """The settings of the bench's processes, as environment variables."""
    values = {"FLX_HOME": str(home), "FLX_LOG_STORE": "file", "FLX_BCRYPT_ROUNDS": "4"}
    if url is not None:
        values["FLX_DATABASE_URL"] = url
    return values


async def prepare(home: Path, url: str | None, lines: int) -> tuple[str, str]:
    """The user, a pipeline and one finished run whose log has ``lines`` lines; the
    pipeline's id and the execution's id."""
    from pydantic import SecretStr

    from flx_auth import CreateUser, Role
    from flx_core.application import CreatePipeline, GetExecution
    from flx_core.bootstrap import bootstrap
    from flx_core.config import FlxSettings
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins, RunPipeline

    settings = FlxSettings(home=home, database_url=url, log_store="file", bcrypt_rounds=4)
    runtime = await bootstrap(settings)
    me = Principal.system()

    async def ask(message: Any) -> Any:
        result = await runtime.app.execute(message, principal=me)
        assert result.ok, result.message
        return result.value

    try:
        await ask(
            CreateUser(email=EMAIL, password=SecretStr(PASSWORD), roles=frozenset({Role.ADMIN}))
        )
        await ask(RegisterBuiltinPlugins())
        pipeline = await ask(
            CreatePipeline(
                name="bench",
                extractor="tap-flx-sample",
                loader="target-flx-jsonl",
                config={"tap-flx-sample": {"rows": 1}},
            )
        )
        execution = await ask(RunPipeline(pipeline="bench"))
        for _ in range(1200):  # the run takes a second or two
            finished = await ask(GetExecution(execution_id=execution.id))
            if finished.status in ("succeeded", "failed", "cancelled"):
                break
            await asyncio.sleep(0.1)
        assert finished.status == "succeeded", finished.error
        log = Path(finished.log_path)
        log = log if log.is_absolute() else home / log
        with log.open("a", encoding="utf-8") as out:
            for start in range(0, lines, 10_000):
                count = min(10_000, lines - start)
                out.write("".join(LINE.format(start + n) + "\n" for n in range(count)))
        return pipeline.id, execution.id
    finally:
        await runtime.aclose()


def serve(
    home: Path, url: str | None, http_port: int, grpc_port: int, log: Path
) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
    env.update(settings_env(home, url))
    env.update(
        FLX_DAEMON="off",
        FLX_GRPC_PORT=str(grpc_port),
        FLX_API_RATE_LIMIT="100000000/minute",
        FLX_LOG_LEVEL="warning",
    )
    with log.open("wb") as out:
        return subprocess.Popen(
            [FLX, "serve", "--port", str(http_port), "--no-scheduler"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"flx serve exited:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{url}/health/ready", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    sys.exit("flx serve did not start in time")


async def load(
    call: Callable[[], Awaitable[Any]], seconds: float, concurrency: int
) -> dict[str, float]:
    """Callers that each call again as soon as answered; calls/s, p50 and p99 (ms), and
    the calls that failed (a connection the server closed, an error status)."""
    latencies: list[float] = []
    errors = 0
    measuring = False
    stop_at = 0.0

    async def caller() -> None:
        nonlocal errors
        while time.monotonic() < stop_at:
            began = time.perf_counter()
            try:
                await call()
            except Exception:
                errors += measuring
                continue
            if measuring:
                latencies.append(time.perf_counter() - began)

    stop_at = time.monotonic() + 1.0  # warm-up
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    measuring = True
    began = time.monotonic()
    stop_at = began + seconds
    await asyncio.gather(*(caller() for _ in range(concurrency)))
    elapsed = time.monotonic() - began
    latencies.sort()
    return {
        "per_second": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000,
        "errors": errors,
    }


async def unary(
    target: str, url: str, pipeline_id: str, seconds: float, concurrency: int
) -> dict[str, dict[str, float]]:
    from flx_grpc._generated.flx.v1 import pipeline_service_pb2
    from flx_grpc.client import AsyncFlxGrpcClient

    results = {}
    async with AsyncFlxGrpcClient(target) as client:
        await client.login(EMAIL, PASSWORD)
        request = pipeline_service_pb2.GetPipelineRequest(pipeline=pipeline_id)
        metadata = client.metadata()
        stub = client.stubs.pipelines

        async def grpc_call() -> None:
            await stub.GetPipeline(request, metadata=metadata, timeout=30)

        results["gRPC GetPipeline"] = await load(grpc_call, seconds, concurrency)
        token = client.token
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits) as http:

        async def rest_call() -> None:
            response = await http.get(f"/api/v1/pipelines/{pipeline_id}", timeout=30)
            assert response.status_code == 200, response.text

        results["REST GET /pipelines/{id}"] = await load(rest_call, seconds, concurrency)
    return results


def stream_grpc(target: str, execution_id: str) -> tuple[int, float]:
    from flx_grpc.client import FlxGrpcClient

    with FlxGrpcClient(target) as client:
        client.login(EMAIL, PASSWORD)
        began = time.perf_counter()
        lines = sum(text.count("\n") for text in client.follow_logs(execution_id, timeout=600))
        return lines, time.perf_counter() - began


def stream_rest(url: str, execution_id: str) -> tuple[int, float]:
    """The SSE stream read as EventSource reads it: each line of a ``log`` event is a
    ``data:`` line; the stream ends with ``event: end``."""
    token = httpx.post(
        f"{url}/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
    ).json()["access_token"]
    lines, event = 0, ""
    began = time.perf_counter()
    with (
        httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}) as http,
        http.stream(
            "GET",
            f"/api/v1/executions/{execution_id}/logs/stream",
            timeout=httpx.Timeout(30, read=600),
        ) as response,
    ):
        for line in response.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "log":
                lines += 1
            elif not line:
                event = ""
    return lines, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--database", default=SERVER, help="a PostgreSQL server's URL")
    parser.add_argument("--sqlite", action="store_true", help="the embedded database instead")
    args = parser.parse_args()

    url = None
    if not args.sqlite:
        from flx_core.infrastructure.persistence import upgrade

        admin(args.database, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        admin(args.database, f'CREATE DATABASE "{DATABASE}"')
        url = f"{args.database.rpartition('/')[0]}/{DATABASE}"
        upgrade(url)
    try:
        with tempfile.TemporaryDirectory(prefix="flx-bench-grpc-") as tmp:
            results, streams = run(Path(tmp), url, args)
    finally:
        if url is not None:
            admin(args.database, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    print(f"database: {'SQLite' if url is None else 'PostgreSQL'}")
    report(results, streams, args.lines)


def run(
    tmp: Path, url: str | None, args: argparse.Namespace
) -> tuple[dict[str, dict[str, float]], dict[str, tuple[int, float]]]:
    home = tmp / "home"
    print(f"preparing: a finished run with a {args.lines:,}-line log", flush=True)
    pipeline_id, execution_id = asyncio.run(prepare(home, url, args.lines))
    http_port, grpc_port = free_port(), free_port()
    log = tmp / "serve.log"
    process = serve(home, url, http_port, grpc_port, log)
    url_http, target = f"http://127.0.0.1:{http_port}", f"127.0.0.1:{grpc_port}"
    try:
        wait_ready(url_http, process, log)
        print(f"unary: {args.concurrency} callers, {args.seconds:g} s each", flush=True)
        results = asyncio.run(unary(target, url_http, pipeline_id, args.seconds, args.concurrency))
        streams = {
            "gRPC StreamLogs": stream_grpc(target, execution_id),
            "REST SSE /logs/stream": stream_rest(url_http, execution_id),
        }
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)
    return results, streams


def report(
    results: dict[str, dict[str, float]], streams: dict[str, tuple[int, float]], lines: int
) -> None:
    print()
    print(f"{'unary read':<28}{'calls/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}")
    for name, figures in results.items():
        print(
            f"{name:<28}{figures['per_second']:>10.0f}{figures['p50_ms']:>10.1f}"
            f"{figures['p99_ms']:>10.1f}{figures['errors']:>8.0f}"
        )
    grpc_rate = results["gRPC GetPipeline"]["per_second"]
    rest_rate = results["REST GET /pipelines/{id}"]["per_second"]
    print(f"ratio gRPC / REST: {grpc_rate / rest_rate:.2f}x calls/s")
    print()
    print(f"{'log stream':<28}{'lines':>10}{'seconds':>10}{'lines/s':>12}")
    rates = {}
    for name, (count, seconds) in streams.items():
        rates[name] = count / seconds
        print(f"{name:<28}{count:>10}{seconds:>10.2f}{rates[name]:>12.0f}")
        if count < lines:
            print(f"  note: {name} delivered {count} of {lines} lines")
    ratio = rates["gRPC StreamLogs"] / rates["REST SSE /logs/stream"]
    print(f"ratio gRPC / REST: {ratio:.2f}x lines/s")
    print(json.dumps({"unary": results, "streams": rates}))


if __name__ == "__main__":
    main()

"""The processes of ``bench_api.py``: the two servers it compares, and its load generator.

Each runs in a process of its own, so the servers and the load generator are scheduled by
the operating system like the real thing (no shared event loop, no shared GIL):

    uvicorn --app-dir bench bench_api_support:flx_app --factory     # FLX: create_app + bootstrap
    uvicorn --app-dir bench bench_api_support:bare_app --factory    # FastAPI + one SELECT
    python bench/bench_api_support.py --url URL --path P [--path P...] --seconds S --concurrency C

The servers read their database from ``FLX_DATABASE_URL`` (and FLX's other settings from the
environment, as ``flx serve`` does). The load generator prints one JSON line: its latencies'
percentiles, requests per second and the count of answers that were not 200.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from urllib.parse import urlsplit


def flx_app() -> Any:
    """The FLX API as ``flx serve`` builds it: the application factory and the server-kind
    process (bootstrap), with the settings of the environment."""
    from flx_api.app import create_app
    from flx_core.application import ProcessKind
    from flx_core.bootstrap import bootstrap
    from flx_core.config import load_settings

    settings = load_settings()

    async def build() -> Any:
        return await bootstrap(settings, kind=ProcessKind.SERVER, migrate=False)

    return create_app(settings, build)


def bare_app() -> Any:
    """The reference: a FastAPI endpoint that reads one execution by primary key through
    SQLAlchemy's async engine on the same driver (psycopg 3) and pool settings as FLX, and
    answers it as JSON. No auth, no bus, no unit of work, no domain objects, no middleware:
    what is left is the framework, the driver and the database."""
    from fastapi import FastAPI, HTTPException
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    from flx_core.infrastructure.persistence.engine import async_url

    engine = create_async_engine(async_url(os.environ["FLX_DATABASE_URL"]), pool_pre_ping=True)
    query = text("SELECT * FROM executions WHERE id = :id")

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan, openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/executions/{execution_id}")
    async def get_execution(execution_id: str) -> dict[str, Any]:
        async with engine.connect() as conn:
            row = (await conn.execute(query, {"id": execution_id})).first()
        if row is None:
            raise HTTPException(404)
        return dict(row._mapping)

    return app


# -- the load generator -----------------------------------------------------------------
# A minimal HTTP/1.1 keep-alive client on asyncio streams: a general client (httpx) costs
# several times more CPU per request, and the load generator shares the machine with the
# server it measures.


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> int:
        """GET ``path``; the status code (the body is read and dropped)."""
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        request = f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.extra}\r\n"
        self.writer.write(request.encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        length = 0
        close = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
            elif name == "transfer-encoding":
                raise RuntimeError("chunked responses are not expected from these endpoints")
        if length:
            await self.reader.readexactly(length)
        if close:
            await self.close()
        return status

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = self.reader = None


async def load(
    url: str, paths: list[str], seconds: float, concurrency: int, headers: dict[str, str]
) -> dict[str, Any]:
    """``concurrency`` clients, each sending its next request as soon as the previous one is
    answered, for ``seconds`` (after a one-second warm-up that is not counted)."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    latencies: list[float] = []
    failures = 0
    warm_until = time.monotonic() + 1.0
    stop_at = warm_until + seconds

    async def client(n: int) -> None:
        nonlocal failures
        connection = Connection(host, port, headers)
        i = n
        try:
            while True:
                started = time.monotonic()
                if started >= stop_at:
                    return
                status = await connection.get(paths[i % len(paths)])
                i += 1
                if started >= warm_until:
                    latencies.append(time.monotonic() - started)
                    if status != 200:
                        failures += 1
        finally:
            await connection.close()

    await asyncio.gather(*(client(n) for n in range(concurrency)))
    latencies.sort()

    def pct(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000

    return {
        "requests": len(latencies),
        "failures": failures,
        "rps": len(latencies) / seconds,
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="bench_api's load generator")
    parser.add_argument("--url", required=True)
    parser.add_argument("--path", action="append", required=True)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--header", action="append", default=[], help="Name: value")
    args = parser.parse_args()
    headers = dict(h.split(": ", 1) for h in args.header)
    work = load(args.url, args.path, args.seconds, args.concurrency, headers)
    try:
        import uvloop
    except ImportError:
        result = asyncio.run(work)
    else:
        result = uvloop.run(work)
    print(json.dumps(result))


if __name__ == "__main__":
    main()

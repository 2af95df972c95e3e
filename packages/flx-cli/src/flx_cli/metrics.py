"""Metrics in FLX's processes: ``/metrics`` on the server's HTTP port (with request counts
of every route), and a port of their own for `flx worker` and `flx scheduler`.

The server's ``/metrics`` carries the business metrics, read from the database by
``ReadBusinessMetrics`` as the system principal ``metrics`` (see flx_observability's
``BusinessMetrics``); the worker's and the scheduler's ports carry their process metrics
only, so that a sum over the installation's targets counts each execution once.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from fastapi import FastAPI

    from flx_core.config import FlxSettings
    from flx_observability import BusinessSnapshot


def install_metrics(app: FastAPI, settings: FlxSettings) -> None:
    """Count and time the requests of ``app``, and serve ``GET /metrics`` on it (behind
    FLX_METRICS_TOKEN when set)."""
    import hmac

    from starlette.requests import Request
    from starlette.responses import Response

    from flx_observability import (
        METRICS_CONTENT_TYPE,
        BusinessMetrics,
        RequestMetricsMiddleware,
        scrape,
    )

    async def read() -> BusinessSnapshot:
        return await read_business_metrics(app.state.runtime)

    business = BusinessMetrics(read, ttl=settings.metrics_cache_seconds)
    token = settings.metrics_token.get_secret_value() if settings.metrics_token else None

    async def metrics(request: Request) -> Response:
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return Response(
                    "metrics need the bearer token of FLX_METRICS_TOKEN\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": "Bearer"},
                )
        return Response(await scrape(business), media_type=METRICS_CONTENT_TYPE)

    app.add_middleware(RequestMetricsMiddleware)
    app.add_route("/metrics", metrics, methods=["GET"], include_in_schema=False)


async def read_business_metrics(runtime: Any) -> BusinessSnapshot:
    from flx_core.domain import Principal
    from flx_meltano import ReadBusinessMetrics

    if runtime is None:
        raise RuntimeError("the server is not started yet")
    result = await runtime.app.execute(ReadBusinessMetrics(), principal=Principal.system("metrics"))
    snapshot: BusinessSnapshot = result.unwrap()
    return snapshot


def metrics_port_option(f: Any) -> Any:
    """``--metrics-port`` and ``--metrics-host`` of a long-running command."""
    f = click.option(
        "--metrics-host",
        default=None,
        metavar="HOST",
        help="Address of the metrics port (default FLX_API_HOST).",
    )(f)
    return click.option(
        "--metrics-port",
        type=click.IntRange(0, 65535),
        default=None,
        metavar="PORT",
        help="Serve this process's Prometheus metrics on PORT (0: any free port).",
    )(f)


@contextlib.contextmanager
def metrics_port(
    host: str, port: int | None, *, multiprocess: Path | None = None
) -> Iterator[int | None]:
    """Serve the process metrics on ``port`` while the block runs (nothing when None).

    With ``multiprocess``, that directory (emptied) collects the values of this process's
    children (Celery's pool), set before prometheus_client is first imported, and it is
    removed afterwards. Yields the port listened on.
    """
    if port is None:
        yield None
        return
    from flx_cli.context import fail

    owned = None
    if multiprocess is not None:
        from flx_observability import use_multiprocess_dir

        owned = None if os.environ.get("PROMETHEUS_MULTIPROC_DIR") else multiprocess
        use_multiprocess_dir(multiprocess)
    from flx_observability import MetricsPortRefused, serve_metrics

    try:
        bound, stop = serve_metrics(host, port)
    except MetricsPortRefused as exc:
        fail(str(exc))
    click.echo(f"metrics on http://{host}:{bound}/metrics", err=True)
    try:
        yield bound
    finally:
        stop()
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)

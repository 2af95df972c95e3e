"""Serving the metrics: the body of a scrape (for the ``/metrics`` route of `flx serve`),
and a port of their own for the processes that serve no HTTP (`flx worker`, `flx
scheduler`)."""

from __future__ import annotations

import asyncio
import errno
from collections.abc import Callable
from typing import TYPE_CHECKING

from flx_observability.metrics_multiprocess import process_registry

if TYPE_CHECKING:
    from flx_observability.metrics_business import BusinessMetrics

#: The content type of the text exposition format.
METRICS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class MetricsPortRefused(Exception):
    """The metrics port cannot be listened on; the message says why in one line."""


async def scrape(business: BusinessMetrics | None = None) -> bytes:
    """The metrics of this process (or of its siblings in multiprocess mode) and, given
    ``business``, the installation's business metrics, refreshed first if stale."""
    from flx_observability.metrics import render

    registries = [process_registry()]
    if business is not None:
        await business.refresh()
        registries.append(business.registry())
    # Reading the multiprocess files and rendering is blocking work: off the event loop.
    return await asyncio.to_thread(render, *registries)


def serve_metrics(host: str, port: int) -> tuple[int, Callable[[], None]]:
    """Serve this process's metrics on ``host``:``port`` (0: a free port) from a thread;
    the port, and a function that stops the server."""
    from prometheus_client import start_http_server

    # The metric definitions are registered before the first scrape.
    import flx_observability.metrics  # noqa: F401

    try:
        server, thread = start_http_server(port, host, registry=process_registry())
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            raise MetricsPortRefused(
                f"metrics port {port} on {host} is in use: choose another with --metrics-port"
            ) from None
        raise MetricsPortRefused(
            f"cannot serve metrics on {host}:{port}: {exc.strerror or exc}"
        ) from None

    def stop() -> None:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)

    return int(server.server_address[1]), stop

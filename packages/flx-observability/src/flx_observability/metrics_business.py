"""The business metrics: read from the database when Prometheus scrapes, not counted in
memory, so they cover every process of the installation (a `flx run` that ended an hour
ago, a worker on another machine) and agree whichever server answers.

The read is one aggregated pass over the run history; a busy installation's history is
large, so its cost is bounded twice: a snapshot is reused for ``ttl`` seconds (scrapes in
between, from several Prometheus servers or by hand, cost nothing), and never read again
sooner than ``1 / max_share`` times its own duration (a read taking 2 s with the default
share of 10% is repeated at most every 20 s). With a ``ttl`` of 0 every scrape reads (no
cache, no bound: for tests and small installations). A scrape waits for a read at most
``wait`` seconds (Prometheus gives up after 10 by default): a longer one finishes in the
background and the scrape gets the last snapshot. A read that fails leaves the last snapshot in
place and is counted in ``flx_metrics_read_errors_total``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Iterator

import structlog
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector, CollectorRegistry

from flx_observability.metrics_snapshot import DURATION_BUCKETS, BusinessSnapshot

log = structlog.get_logger(__name__)

ReadSnapshot = Callable[[], Awaitable[BusinessSnapshot]]


class BusinessMetrics(Collector):
    """A collector over the last snapshot ``read`` gave; ``refresh`` (awaited by the
    ``/metrics`` route before it renders) reads a new one when the old one is stale."""

    def __init__(
        self,
        read: ReadSnapshot,
        *,
        ttl: float = 10.0,
        max_share: float = 0.1,
        wait: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.read = read
        self.ttl = ttl
        self.max_share = max_share
        self.wait = wait
        self.clock = clock
        self.snapshot: BusinessSnapshot | None = None
        self.read_seconds = 0.0
        self.read_errors = 0
        self._read_at: float | None = None
        self._next_at = 0.0
        self._reading: asyncio.Future[None] | None = None
        self._lock = asyncio.Lock()

    def registry(self) -> CollectorRegistry:
        """A registry of these metrics alone (rendered beside the process metrics)."""
        registry = CollectorRegistry(auto_describe=False)
        registry.register(self)
        return registry

    async def refresh(self) -> None:
        """Read a new snapshot if the last one is stale; wait for it at most ``wait``
        seconds. A read that takes longer (the first of a process on a large history) goes
        on in the background and the scrape gets the last snapshot meanwhile; a scrape that
        is cancelled (its client went away) does not cancel the read either."""
        async with self._lock:  # concurrent scrapes share one read
            if self._reading is None and self.clock() >= self._next_at:
                self._reading = asyncio.ensure_future(self._read())
            reading = self._reading
        if reading is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(reading), self.wait)
        except TimeoutError:
            log.info("metrics_read_continues", waited_seconds=self.wait)

    async def _read(self) -> None:
        began = self.clock()
        try:
            self.snapshot = await self.read()
            self._read_at = self.clock()
        except Exception as exc:
            self.read_errors += 1
            log.warning("metrics_read_failed", error=f"{type(exc).__name__}: {exc}")
        finally:
            self.read_seconds = self.clock() - began
            if self.ttl > 0:
                pause = max(self.ttl, self.read_seconds / self.max_share)
                self._next_at = self.clock() + pause
            self._reading = None

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterator[Metric]:
        yield from self._meta()
        if self.snapshot is not None:
            yield from snapshot_metrics(self.snapshot)

    def _meta(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            "flx_metrics_read_duration_seconds",
            "How long the last read of the business metrics from the database took.",
            value=self.read_seconds,
        )
        if self._read_at is not None:
            yield GaugeMetricFamily(
                "flx_metrics_age_seconds",
                "Age of the business metrics served (they are read at most every few seconds).",
                value=self.clock() - self._read_at,
            )
        yield CounterMetricFamily(
            "flx_metrics_read_errors",
            "Reads of the business metrics from the database that failed.",
            value=self.read_errors,
        )


def snapshot_metrics(s: BusinessSnapshot) -> Iterator[Metric]:
    """The metric families of a snapshot."""
    executions = CounterMetricFamily(
        "flx_executions",
        "Executions that ended, by pipeline and final status.",
        labels=["pipeline", "status"],
    )
    duration = HistogramMetricFamily(
        "flx_execution_duration_seconds",
        "Duration of the executions that ended (from their start), by pipeline and status.",
        labels=["pipeline", "status"],
    )
    for e in s.executions:
        executions.add_metric([e.pipeline, e.status], e.count)
        if e.timed:
            buckets = [
                (_bound(b), float(n))
                for b, n in zip(DURATION_BUCKETS, e.duration_buckets, strict=True)
            ]
            buckets.append(("+Inf", float(e.timed)))
            duration.add_metric([e.pipeline, e.status], buckets, e.duration_sum)
    yield executions
    yield duration

    streams = CounterMetricFamily(
        "flx_records",
        "Records moved, by pipeline and stream (as counted between tap and target).",
        labels=["pipeline", "stream"],
    )
    for st in s.streams:
        streams.add_metric([st.pipeline, st.stream], st.records)
    yield streams

    per_pipeline: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
        "bytes": CounterMetricFamily(
            "flx_bytes", "Bytes of Singer messages moved, by pipeline.", labels=["pipeline"]
        ),
        "state_commits": CounterMetricFamily(
            "flx_state_commits", "Singer states committed, by pipeline.", labels=["pipeline"]
        ),
        "running": GaugeMetricFamily(
            "flx_executions_running", "Executions running now, by pipeline.", labels=["pipeline"]
        ),
        "queued": GaugeMetricFamily(
            "flx_executions_queued",
            "Executions waiting to start (pending or queued), by pipeline.",
            labels=["pipeline"],
        ),
        "enabled": GaugeMetricFamily(
            "flx_pipeline_enabled", "1 for an enabled pipeline, 0 otherwise.", labels=["pipeline"]
        ),
        "overdue": GaugeMetricFamily(
            "flx_pipeline_overdue",
            "1 when a cron time of the pipeline passed (plus a grace) with no success since.",
            labels=["pipeline"],
        ),
        "consecutive_failures": GaugeMetricFamily(
            "flx_pipeline_consecutive_failures",
            "Failed executions since the pipeline's last success (at most 100 counted).",
            labels=["pipeline"],
        ),
    }
    optional = {
        "success_rate_24h": GaugeMetricFamily(
            "flx_pipeline_success_rate_24h",
            "Share of the executions of the last 24 hours that succeeded (cancelled ones aside).",
            labels=["pipeline"],
        ),
        "success_rate_7d": GaugeMetricFamily(
            "flx_pipeline_success_rate_7d",
            "Share of the executions of the last 7 days that succeeded (cancelled ones aside).",
            labels=["pipeline"],
        ),
        "last_success_timestamp": GaugeMetricFamily(
            "flx_pipeline_last_success_timestamp_seconds",
            "When the pipeline's last successful execution ended (Unix time).",
            labels=["pipeline"],
        ),
        "freshness_seconds": GaugeMetricFamily(
            "flx_pipeline_freshness_seconds",
            "Seconds since the pipeline's last successful execution ended.",
            labels=["pipeline"],
        ),
        "expected_interval_seconds": GaugeMetricFamily(
            "flx_pipeline_expected_interval_seconds",
            "Seconds between the next two cron times of the pipeline's schedule.",
            labels=["pipeline"],
        ),
    }
    for p in s.pipelines:
        for key, family in per_pipeline.items():
            family.add_metric([p.pipeline], float(getattr(p, key)))
        for key, family in optional.items():
            value = getattr(p, key)
            if value is not None:
                family.add_metric([p.pipeline], float(value))
    yield from per_pipeline.values()
    yield from optional.values()

    failures = CounterMetricFamily(
        "flx_login_failures", "Failed logins, by reason.", labels=["reason"]
    )
    for reason, count in sorted(s.login_failures.items()):
        failures.add_metric([reason], count)
    yield failures
    yield CounterMetricFamily(
        "flx_account_lockouts",
        "Accounts locked after too many failed logins.",
        value=s.lockouts,
    )
    unattended = GaugeMetricFamily(
        "flx_executions_unattended",
        "Executions no process looks after: running ones whose heartbeat stopped, due queued "
        "ones no worker took (for longer than FLX_HEARTBEAT_TIMEOUT).",
        labels=["kind"],
    )
    unattended.add_metric(["running"], s.unattended_running)
    unattended.add_metric(["queued"], s.unattended_queued)
    yield unattended
    if s.scheduler_last_tick is not None:
        yield GaugeMetricFamily(
            "flx_scheduler_last_seen_timestamp_seconds",
            "When a scheduler of the installation last recorded its tick in the database "
            "(Unix time; recorded every 10 s at most).",
            value=s.scheduler_last_tick,
        )
    if s.oldest_queued_seconds is not None:
        yield GaugeMetricFamily(
            "flx_executions_oldest_queued_age_seconds",
            "Age of the oldest execution waiting to start.",
            value=s.oldest_queued_seconds,
        )


def _bound(value: float) -> str:
    return str(float(value))

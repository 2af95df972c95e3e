"""BusinessMetrics: the snapshot is read at most every ``ttl`` seconds, never more often
than its own cost allows, shared by concurrent scrapes, and kept when a read fails."""

from __future__ import annotations

import asyncio

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from flx_observability.metrics_business import BusinessMetrics
from flx_observability.metrics_snapshot import (
    DURATION_BUCKETS,
    BusinessSnapshot,
    ExecutionTotals,
    PipelineTotals,
    StreamTotals,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Source:
    """Snapshots numbered by read; a read costs ``cost`` seconds of the clock."""

    def __init__(self, clock: Clock, cost: float = 0.0) -> None:
        self.clock = clock
        self.cost = cost
        self.reads = 0
        self.fail = False

    async def __call__(self) -> BusinessSnapshot:
        self.reads += 1
        await asyncio.sleep(0)
        self.clock.now += self.cost
        if self.fail:
            raise ConnectionError("database away")
        return BusinessSnapshot(executions=[ExecutionTotals("p", "succeeded", self.reads)])


def samples(metrics: BusinessMetrics) -> dict[str, float]:
    text = generate_latest(metrics.registry()).decode()
    return {
        s.name + str(sorted(s.labels.items())): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }


def executions(metrics: BusinessMetrics) -> float:
    return samples(metrics)["flx_executions_total[('pipeline', 'p'), ('status', 'succeeded')]"]


async def test_a_snapshot_is_reused_for_ttl_seconds() -> None:
    clock = Clock()
    source = Source(clock)
    metrics = BusinessMetrics(source, ttl=10, clock=clock)
    await metrics.refresh()
    clock.now += 9.9
    await metrics.refresh()
    assert source.reads == 1 and executions(metrics) == 1
    clock.now += 0.2
    await metrics.refresh()
    assert source.reads == 2 and executions(metrics) == 2


async def test_an_expensive_read_is_repeated_at_most_at_its_share_of_the_time() -> None:
    clock = Clock()
    source = Source(clock, cost=3.0)  # 3 s a read, 10% share: every 30 s at most
    metrics = BusinessMetrics(source, ttl=10, max_share=0.1, clock=clock)
    await metrics.refresh()
    clock.now += 20
    await metrics.refresh()
    assert source.reads == 1
    clock.now += 10
    await metrics.refresh()
    assert source.reads == 2
    assert samples(metrics)["flx_metrics_read_duration_seconds[]"] == 3.0


async def test_concurrent_scrapes_share_one_read_and_ttl_zero_reads_every_time() -> None:
    clock = Clock()
    source = Source(clock)
    metrics = BusinessMetrics(source, ttl=5, clock=clock)
    await asyncio.gather(*(metrics.refresh() for _ in range(5)))
    assert source.reads == 1
    eager = BusinessMetrics(source, ttl=0, clock=clock)
    for _ in range(3):
        await eager.refresh()
    assert source.reads == 4


async def test_a_failed_read_keeps_the_last_snapshot_and_is_counted() -> None:
    clock = Clock()
    source = Source(clock)
    metrics = BusinessMetrics(source, ttl=1, clock=clock)
    await metrics.refresh()
    source.fail = True
    clock.now += 2
    await metrics.refresh()
    got = samples(metrics)
    assert executions(metrics) == 1
    assert got["flx_metrics_read_errors_total[]"] == 1
    assert got["flx_metrics_age_seconds[]"] == 2.0


def test_a_snapshot_as_metric_families() -> None:
    metrics = BusinessMetrics(Source(Clock()))
    metrics.snapshot = BusinessSnapshot(
        executions=[
            ExecutionTotals(
                "orders",
                "failed",
                3,
                tuple(2 if b >= 60 else 0 for b in DURATION_BUCKETS),
                timed=2,
                duration_sum=100.5,
            )
        ],
        pipelines=[PipelineTotals("orders", records=10, overdue=True, consecutive_failures=3)],
        streams=[StreamTotals("orders", "public-orders", 10)],
        login_failures={"bad_credentials": 4},
        lockouts=1,
    )
    got = samples(metrics)
    labels = "('pipeline', 'orders'), ('status', 'failed')"
    assert got[f"flx_executions_total[{labels}]"] == 3
    assert got[f"flx_execution_duration_seconds_count[{labels}]"] == 2
    assert got[f"flx_execution_duration_seconds_sum[{labels}]"] == 100.5
    assert got[f"flx_execution_duration_seconds_bucket[('le', '30.0'), {labels}]"] == 0
    assert got[f"flx_execution_duration_seconds_bucket[('le', '60.0'), {labels}]"] == 2
    assert got[f"flx_execution_duration_seconds_bucket[('le', '+Inf'), {labels}]"] == 2
    assert got["flx_records_total[('pipeline', 'orders'), ('stream', 'public-orders')]"] == 10
    assert got["flx_pipeline_overdue[('pipeline', 'orders')]"] == 1
    assert got["flx_pipeline_consecutive_failures[('pipeline', 'orders')]"] == 3
    assert got["flx_login_failures_total[('reason', 'bad_credentials')]"] == 4
    assert got["flx_account_lockouts_total[]"] == 1
    # No success yet: no freshness and no rate, rather than a made-up zero.
    assert not [k for k in got if k.startswith(("flx_pipeline_freshness", "flx_pipeline_success"))]


async def test_a_slow_read_finishes_in_the_background_and_survives_a_cancelled_scrape() -> None:
    release = asyncio.Event()
    reads = 0

    async def slow() -> BusinessSnapshot:
        nonlocal reads
        reads += 1
        await release.wait()
        return BusinessSnapshot(executions=[ExecutionTotals("p", "succeeded", 7)])

    metrics = BusinessMetrics(slow, ttl=10, wait=0.05)
    await metrics.refresh()  # gives up waiting: the scrape goes on without a snapshot
    assert metrics.snapshot is None
    scrape = asyncio.create_task(metrics.refresh())
    await asyncio.sleep(0.01)
    scrape.cancel()  # its client went away
    release.set()
    await asyncio.sleep(0.01)
    assert reads == 1 and executions(metrics) == 7

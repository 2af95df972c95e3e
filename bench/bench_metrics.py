"""The reads behind /metrics and the dashboard's KPIs on a large run history.

    uv run python bench/bench_metrics.py [--executions 1000000] [--pipelines 50]
                                         [--database postgresql://...] [--keep]

Creates a database of its own (``flx_bench_metrics`` on the server of ``--database``, dropped
at the end unless ``--keep``), migrates it, creates the built-in plugins and ``--pipelines``
pipelines (half of them scheduled) through the application, writes ``--executions``
executions with the API benchmark's ``INSERT ... SELECT generate_series`` (a year of history,
two streams each), and times, three times each (the median is printed):

- ``GetPipelineKpis`` (every pipeline): what the dashboard asks;
- ``ReadBusinessMetrics``: what a scrape of ``/metrics`` reads when its cache is stale: the
  first of a process reads the whole history, later ones only what is not settled (see
  ``flx_meltano.reporting.settled``); and the parts of each;
- a whole scrape as the server renders it (``BusinessMetrics.refresh`` and the text).

Then it prints how often a stale read may run under the default bound (10% of the time:
``FLX_METRICS_CACHE_SECONDS`` or ten times the read, whichever is longer). Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_api import INSERT_EXECUTIONS, SERVER, database_url  # noqa: E402

NAME = "flx_bench_metrics"


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(database_url(server, "postgres"), autocommit=True) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


async def timed(what: str, call: Callable[[], Awaitable[Any]], rounds: int = 3) -> float:
    times = []
    for _ in range(rounds):
        began = time.perf_counter()
        await call()
        times.append(time.perf_counter() - began)
    median = statistics.median(times)
    print(f"  {what:<48} {median * 1000:9.1f} ms")
    return median


async def measure(url: str, executions: int, pipelines: int) -> None:
    import psycopg

    from flx_core.application import CreatePipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.config import FlxSettings
    from flx_core.domain import Principal
    from flx_meltano import GetPipelineKpis, ReadBusinessMetrics, RegisterBuiltinPlugins
    from flx_meltano.reporting.kpis import KpiRepository
    from flx_meltano.reporting.totals import TotalsRepository
    from flx_observability.metrics_business import BusinessMetrics
    from flx_observability.metrics_server import scrape

    me = Principal.system()
    home = Path(tempfile.mkdtemp(prefix=f"{NAME}-"))
    rt = await bootstrap(FlxSettings(home=home, database_url=url))
    try:
        app = rt.app
        assert (await app.execute(RegisterBuiltinPlugins(), principal=me)).ok
        for i in range(pipelines):
            created = await app.execute(
                CreatePipeline(
                    name=f"p{i:03d}",
                    extractor="tap-flx-sample",
                    loader="target-flx-jsonl",
                    schedule="*/15 * * * *" if i % 2 else None,
                ),
                principal=me,
            )
            assert created.ok, created.message
        began = time.perf_counter()
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(INSERT_EXECUTIONS, {"n": executions})  # type: ignore[arg-type]
            conn.execute("ANALYZE")
        print(
            f"{executions:,} executions of {pipelines} pipelines written in "
            f"{time.perf_counter() - began:.1f} s\n"
        )

        async def bus(message: Any) -> Any:
            result = await app.execute(message, principal=me)
            assert result.ok, result.message
            return result.value

        async def part(call: Callable[[Any], Awaitable[Any]]) -> Any:
            async with app.uow_factory() as uow:
                return await call(uow)

        print("the dashboard and /metrics, through the bus:")
        await timed("GetPipelineKpis (all pipelines)", lambda: bus(GetPipelineKpis()))
        await timed("GetPipelineKpis (one pipeline)", lambda: bus(GetPipelineKpis(pipeline="p001")))
        await timed(
            "ReadBusinessMetrics, first of a process", lambda: bus(ReadBusinessMetrics()), rounds=1
        )
        read = await timed("ReadBusinessMetrics, then", lambda: bus(ReadBusinessMetrics()))
        print("its parts:")
        since = datetime.now(UTC) - timedelta(minutes=10)
        await timed(
            "whole history: totals by pipeline and status",
            lambda: part(lambda u: u.get(TotalsRepository).executions()),
            rounds=1,
        )
        await timed(
            "whole history: records per stream",
            lambda: part(lambda u: u.get(TotalsRepository).streams()),
            rounds=1,
        )
        await timed(
            "live part: totals (created in the last 10 min)",
            lambda: part(lambda u: u.get(TotalsRepository).executions(since=since)),
        )
        await timed(
            "live part: records per stream",
            lambda: part(lambda u: u.get(TotalsRepository).streams(since=since)),
        )
        await timed(
            "pipelines' newest run and success",
            lambda: part(lambda u: u.get(KpiRepository).pipelines()),
        )
        print("a scrape whose cache is stale (the server's process, history settled):")

        async def snapshot() -> Any:
            return await bus(ReadBusinessMetrics())

        async def stale_scrape() -> bytes:
            return await scrape(BusinessMetrics(snapshot, ttl=0))

        await timed("BusinessMetrics.refresh + render", stale_scrape)
        body = await stale_scrape()
        lines = body.count(b"\n")
        print(f"  {len(body):,} bytes, {lines:,} lines")
        every = max(10.0, read * 10)
        print(
            f"\nwith the defaults a stale read runs at most every {every:.1f} s "
            f"(10 s cache, 10% of the time)"
        )
    finally:
        await rt.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--database", default=SERVER, help="a PostgreSQL server URL")
    parser.add_argument("--keep", action="store_true", help="keep the database")
    args = parser.parse_args()
    from flx_core.infrastructure.persistence import upgrade

    admin(args.database, f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')
    admin(args.database, f'CREATE DATABASE "{NAME}"')
    url = database_url(args.database, NAME)
    try:
        upgrade(url)
        asyncio.run(measure(url, args.executions, args.pipelines))
    finally:
        if not args.keep:
            admin(args.database, f'DROP DATABASE IF EXISTS "{NAME}" WITH (FORCE)')


if __name__ == "__main__":
    main()

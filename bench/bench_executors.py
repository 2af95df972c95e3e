"""Runs per minute: the celery executor (`flx worker` processes) against the local executor.

    uv run python bench/bench_executors.py [--runs 200] [--records 10] [--workers 2]
                                           [--concurrency 2] [--broker redis|amqp|URL]
                                           [--database postgresql://...]

Measures in one run, on the same machine and the same PostgreSQL server (a database of its
own, dropped at the end): ``--runs`` pipelines of the built-in sample tap (``--records``
records, one stream) into the built-in JSONL target, all requested at once from one process,
then followed to their ends by reading the executions table.
  (a) local: the requesting process runs them itself, ``workers × concurrency`` at a time;
  (b) celery: ``--workers`` `flx worker --concurrency C` processes run them, the requesting
      process only sends them to the broker.
Same parallelism both ways, so the ratio is the cost of the distribution: the broker round
trip, a pool child per run, the database as the only channel between requester and worker.
Every run is a full refresh, so both passes move the same records. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
BROKERS = {"redis": "redis://127.0.0.1:6379/9", "amqp": "amqp://guest:guest@127.0.0.1:5672//"}


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)  # type: ignore[arg-type]


def settings(home: Path, database: str, **overrides: Any) -> Any:
    from flx_core.config import FlxSettings

    return FlxSettings(home=home, database_url=database, **overrides)


async def prepare(home: Path, database: str, names: list[str], records: int, out: Path) -> None:
    """The built-in connectors and one pipeline per run."""
    from flx_core.application import CreatePipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins

    runtime = await bootstrap(settings(home, database))
    me = Principal.system()
    try:
        assert (await runtime.app.execute(RegisterBuiltinPlugins(), principal=me)).ok
        for name in names:
            created = await runtime.app.execute(
                CreatePipeline(
                    name=name,
                    extractor="tap-flx-sample",
                    loader="target-flx-jsonl",
                    config={
                        "tap-flx-sample": {"rows": records, "streams": ["users"]},
                        "target-flx-jsonl": {"destination_path": str(out / name)},
                    },
                ),
                principal=me,
            )
            assert created.ok, created.message
    finally:
        await runtime.aclose()


async def run_all(config: Any, names: list[str]) -> tuple[float, dict[str, int]]:
    """Request a full-refresh run of every pipeline at once; the wall time until the last
    one ended, and how many ended in each status."""
    import sqlalchemy as sa

    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RunPipeline

    runtime = await bootstrap(config)
    me = Principal.system()
    try:
        started = time.perf_counter()
        results = await asyncio.gather(
            *(
                runtime.app.execute(RunPipeline(pipeline=n, full_refresh=True), principal=me)
                for n in names
            )
        )
        failed = [r.message for r in results if not r.ok]
        if failed:
            raise SystemExit(f"{len(failed)} requests refused, first: {failed[0]}")
        ids = [r.value.id for r in results]
        assert runtime.engine is not None
        query = sa.text(
            "SELECT status, count(*) FROM executions WHERE id = ANY(:ids) GROUP BY status"
        )
        while True:
            async with runtime.engine.connect() as conn:
                counts = {s: int(c) for s, c in (await conn.execute(query, {"ids": ids}))}
            if sum(counts.get(s, 0) for s in ("succeeded", "failed", "cancelled")) == len(ids):
                return time.perf_counter() - started, counts
            await asyncio.sleep(0.1)
    finally:
        await runtime.aclose()


def start_workers(
    count: int, concurrency: int, env: dict[str, str], logs: Path
) -> list[subprocess.Popen[bytes]]:
    workers = []
    for i in range(count):
        log = logs / f"worker-{i}.log"
        with log.open("wb") as out:
            workers.append(
                subprocess.Popen(
                    [str(BIN / "flx"), "worker", "--concurrency", str(concurrency)],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )
    deadline = time.monotonic() + 60
    for i, worker in enumerate(workers):
        log = logs / f"worker-{i}.log"
        while " ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise SystemExit(f"worker {i} did not start:\n{log.read_text()[-3000:]}")
            time.sleep(0.1)
    return workers


def stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


def delete_queue(url: str, name: str) -> None:
    from kombu import Connection, Exchange, Queue

    with Connection(url, connect_timeout=5) as conn:
        queue = Queue(name, Exchange(name), name, channel=conn.default_channel)
        queue.declare()  # so that the deletion knows its binding (Redis keeps it apart)
        queue.delete()
        Exchange(name, channel=conn.default_channel).delete()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--records", type=int, default=10)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--concurrency", type=int, default=2, help="runs at once per worker")
    parser.add_argument("--broker", default="redis", help="redis, amqp or a broker URL")
    parser.add_argument(
        "--database",
        default=os.environ.get(
            "FLX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="a PostgreSQL server URL (a database of the bench's own is made on it)",
    )
    args = parser.parse_args()
    from flx_observability import configure_logging

    configure_logging("warning")
    broker = BROKERS.get(args.broker, args.broker)
    slots = args.workers * args.concurrency
    server_base = args.database.rpartition("/")[0]
    dbname = f"flx_bench_{uuid.uuid4().hex[:10]}"
    database = f"{server_base}/{dbname}"
    queue = f"bench-{uuid.uuid4().hex[:10]}"
    names = [f"b{i:03d}" for i in range(args.runs)]

    from flx_core.infrastructure.persistence import upgrade

    admin(args.database, f'CREATE DATABASE "{dbname}"')
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="flx-bench-") as tmp:
            work = Path(tmp)
            home = work / "home"
            upgrade(database)
            asyncio.run(prepare(home, database, names, args.records, work / "out"))

            local_time, local_counts = asyncio.run(
                run_all(settings(home, database, max_concurrent_runs=slots), names)
            )

            env = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
            env.update(
                FLX_HOME=str(home),
                FLX_DATABASE_URL=database,
                FLX_EXECUTOR="celery",
                FLX_BROKER_URL=broker,
                FLX_DEFAULT_QUEUE=queue,
                FLX_DAEMON="off",
            )
            workers = start_workers(args.workers, args.concurrency, env, work)
            celery_time, celery_counts = asyncio.run(
                run_all(
                    settings(
                        home, database, executor="celery", broker_url=broker, default_queue=queue
                    ),
                    names,
                )
            )
            stop(workers)
    finally:
        stop(workers)
        delete_queue(broker, queue)
        admin(args.database, f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')

    def rate(seconds: float) -> float:
        return args.runs / seconds * 60

    print(
        f"\n{args.runs} runs of {args.records} records, {slots} at a time "
        f"(PostgreSQL; celery: {args.workers} workers x {args.concurrency} on "
        f"{broker.split('://')[0]}), {os.cpu_count()} CPUs:"
    )
    print(f"{'':10}{'wall':>10}{'runs/min':>11}  outcome")
    for label, seconds, counts in (
        ("local", local_time, local_counts),
        ("celery", celery_time, celery_counts),
    ):
        outcome = ", ".join(f"{n} {s}" for s, n in sorted(counts.items()))
        print(f"{label:10}{seconds:>9.1f}s{rate(seconds):>11.0f}  {outcome}")
    print(f"celery / local: {rate(celery_time) / rate(local_time):.2f}x the runs per minute")


if __name__ == "__main__":
    main()

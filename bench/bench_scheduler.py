"""The scheduler under load: 1,000 pipelines firing every minute, two schedulers at once.

    uv run python bench/bench_scheduler.py [--pipelines 1000] [--minutes 2] [--schedulers 2]
                                           [--executor celery|local]

Creates a scratch PostgreSQL database (dropped at the end) with N pipelines scheduled
`* * * * *` (on_conflict: queue, so every minute of every pipeline queues an execution), then
runs S `flx scheduler` processes on it for M minute boundaries. Runs go to a Celery queue of
their own that no worker reads (FLX_EXECUTOR=celery on Redis db 15; the queue is purged at
the end), so what is measured is the scheduler's own work: deciding what is due, recording
the fire and the execution, handing the run to the broker. With ``--executor local`` the
pipelines' plugins are `true`, run by the schedulers themselves.

Prints the lag from each cron time to its fire (fired_at - scheduled_for: p50, p99, max),
the fires per minute, what each scheduler fired, and the duplicates (must be 0).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

BIN = Path(sys.executable).parent
SERVER = os.environ.get("FLX_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
BROKER = os.environ.get("FLX_BENCH_BROKER_URL", "redis://127.0.0.1:6379/15")


def database_url(name: str) -> str:
    return f"{SERVER.rpartition('/')[0]}/{name}"


def admin(sql: str) -> None:
    import psycopg

    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(sql)


def query(url: str, sql: str) -> list[tuple[object, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


async def create_pipelines(env: dict[str, str], count: int, executor: str) -> None:
    """``count`` pipelines through the application (a process per pipeline would take
    minutes), all firing every minute."""
    from flx_core.application import AddPlugin, CreatePipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.config import load_settings
    from flx_core.domain import Principal

    os.environ.update(env)
    runtime = await bootstrap(load_settings())
    system = Principal.system()
    tap, target = "tap-flx-sample", "target-flx-jsonl"
    try:
        if executor == "local":
            tap, target = "tap-true", "target-true"
            for kind, name in (("extractor", tap), ("loader", target)):
                added = await runtime.app.execute(
                    AddPlugin(plugin_type=kind, name=name, executable="true"), principal=system
                )
                assert added.ok, added.message
        for i in range(count):
            created = await runtime.app.execute(
                CreatePipeline(
                    name=f"bench-{i:05d}",
                    extractor=tap,
                    loader=target,
                    schedule="* * * * *",
                    on_conflict="queue",
                ),
                principal=system,
            )
            assert created.ok, created.message
    finally:
        await runtime.aclose()


def purge(queue: str) -> None:
    from kombu import Connection, Exchange, Queue

    with Connection(BROKER) as conn:
        purged = Queue(queue, Exchange(queue), routing_key=queue)(conn.default_channel).purge()
    import redis

    redis.Redis.from_url(BROKER).delete(f"_kombu.binding.{queue}")
    print(f"purged {purged or 0} message(s) from queue {queue}")


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(url: str, pipelines: int, boundaries: list[datetime]) -> None:
    fires = query(url, "SELECT scheduled_for, fired_at, outcome, scheduler FROM schedule_fires")
    lags = [(f[1] - f[0]).total_seconds() for f in fires]  # type: ignore[operator]
    per_minute = Counter(f[0] for f in fires)
    duplicates = query(
        url,
        "SELECT count(*) FROM (SELECT pipeline_id, scheduled_for FROM executions "
        "GROUP BY pipeline_id, scheduled_for HAVING count(*) > 1) d",
    )[0][0]
    executions = query(url, "SELECT count(*) FROM executions WHERE trigger = 'schedule'")[0][0]
    expected = pipelines * len(boundaries)
    print(f"\n{pipelines:,} pipelines `* * * * *`, {len(boundaries)} minute(s):")
    print(f"  fires: {len(fires):,} of {expected:,} expected; executions queued: {executions:,}")
    print(f"  outcomes: {dict(Counter(str(f[2]) for f in fires))}")
    for minute in boundaries:
        print(f"  {minute:%H:%M} fired {per_minute.get(minute, 0):,}")
    print(f"  by scheduler: {dict(Counter(str(f[3]) for f in fires))}")
    if lags:
        print(
            f"  lag (fired_at - scheduled_for): p50 {statistics.median(lags):.3f}s  "
            f"p99 {percentile(lags, 0.99):.3f}s  max {max(lags):.3f}s"
        )
    print(f"  duplicates: {duplicates}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pipelines", type=int, default=1000)
    parser.add_argument("--minutes", type=int, default=2)
    parser.add_argument("--schedulers", type=int, default=2)
    parser.add_argument("--executor", choices=("celery", "local"), default="celery")
    args = parser.parse_args()
    name = f"flx_bench_sched_{uuid.uuid4().hex[:10]}"
    queue = f"flx-bench-{uuid.uuid4().hex[:10]}"
    url = database_url(name)
    admin(f'CREATE DATABASE "{name}"')
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory(prefix="flx-bench-") as tmp:
            work = Path(tmp)
            base = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
            base.update(FLX_DATABASE_URL=url, FLX_DAEMON="off", FLX_LOG_FORMAT="json")
            if args.executor == "celery":
                base.update(FLX_EXECUTOR="celery", FLX_BROKER_URL=BROKER, FLX_DEFAULT_QUEUE=queue)
            from flx_core.infrastructure.persistence import upgrade

            upgrade(url)
            began = time.monotonic()
            asyncio.run(
                create_pipelines(
                    {**base, "FLX_HOME": str(work / "setup")}, args.pipelines, args.executor
                )
            )
            created = datetime.now(UTC)
            print(f"created {args.pipelines:,} pipelines in {time.monotonic() - began:.1f}s")
            for i in range(args.schedulers):
                env = {**base, "FLX_HOME": str(work / f"scheduler-{i}")}
                log = (work / f"scheduler-{i}.log").open("wb")
                processes.append(
                    subprocess.Popen(
                        [str(BIN / "flx"), "scheduler"],
                        env=env,
                        stdout=subprocess.DEVNULL,
                        stderr=log,
                        start_new_session=True,
                    )
                )
            first = created.replace(second=0, microsecond=0) + timedelta(minutes=1)
            boundaries = [first + timedelta(minutes=n) for n in range(args.minutes)]
            end = boundaries[-1] + timedelta(seconds=40)
            print(f"schedulers running; fires at {', '.join(f'{b:%H:%M}' for b in boundaries)}")
            time.sleep(max(0.0, (end - datetime.now(UTC)).total_seconds()))
            for proc in processes:
                proc.send_signal(signal.SIGTERM)
            for proc in processes:
                proc.wait(timeout=120)
                if proc.returncode != 0:
                    print(f"scheduler pid {proc.pid} exited with {proc.returncode}")
            errors = [
                line
                for i in range(args.schedulers)
                for line in (work / f"scheduler-{i}.log").read_text().splitlines()
                if '"level": "error"' in line or "Traceback" in line
            ]
            for line in errors[:5]:
                print(f"  scheduler error: {line[:300]}")
            report(url, args.pipelines, boundaries)
    finally:
        for proc in processes:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        if args.executor == "celery":
            purge(queue)
        admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()

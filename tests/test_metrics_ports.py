"""``--metrics-port`` of `flx scheduler` and `flx worker`: real processes scraped over HTTP.
The worker's runs happen in its pool children; their counts add up on the parent's port."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

FLX = str(Path(sys.executable).parent / "flx")
ANNOUNCED = re.compile(r"metrics on (http://\S+/metrics)")
BROKER = os.environ.get("FLX_TEST_BROKER_REDIS_URL", "redis://127.0.0.1:6379/9")


class Process:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        with log.open("wb") as out:
            self.proc = subprocess.Popen(
                [FLX, *args], env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, pattern: re.Pattern[str], deadline: float = 90) -> re.Match[str]:
        end = time.monotonic() + deadline
        while (found := pattern.search(self.output())) is None:
            if self.proc.poll() is not None or time.monotonic() > end:
                raise AssertionError(f"not seen {pattern.pattern!r}:\n{self.output()}")
            time.sleep(0.1)
        return found

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        with contextlib.suppress(ProcessLookupError):  # pool children, connectors
            os.killpg(self.proc.pid, signal.SIGKILL)


@pytest.fixture
def started() -> Iterator[list[Process]]:
    processes: list[Process] = []
    try:
        yield processes
    finally:
        for p in processes:
            p.stop()


def scrape(url: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(url, timeout=30).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLX_", "PROMETHEUS_")) or k.startswith("FLX_TEST_")
    }
    env.update(FLX_HOME=str(home), FLX_DAEMON="off", **extra)
    return env


def test_the_scheduler_serves_its_ticks(tmp_path: Path, started: list[Process]) -> None:
    env = clean_env(tmp_path / "home")
    scheduler = Process(
        ["scheduler", "--tick", "0.1", "--metrics-port", "0", "--metrics-host", "127.0.0.1"],
        env,
        tmp_path / "scheduler.log",
    )
    started.append(scheduler)
    url = scheduler.wait_for(ANNOUNCED).group(1)
    end = time.monotonic() + 60
    while (m := scrape(url)).get(("flx_scheduler_ticks_total", ()), 0) < 3:
        assert time.monotonic() < end, scheduler.output()
        time.sleep(0.1)
    assert abs(m[("flx_scheduler_last_tick_timestamp_seconds", ())] - time.time()) < 30
    # Process metrics only: the business metrics are the server's.
    assert not [name for name, _ in m if name.startswith("flx_executions_total")]
    scheduler.stop()
    assert scheduler.proc.returncode == 0, scheduler.output()


def test_a_port_in_use_is_refused_with_a_clear_message(tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        port = sock.getsockname()[1]
        done = subprocess.run(
            [
                FLX,
                "scheduler",
                "--once",
                "--metrics-port",
                str(port),
                "--metrics-host",
                "127.0.0.1",
            ],
            env=clean_env(tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert done.returncode != 0
    assert f"metrics port {port} on 127.0.0.1 is in use" in done.stderr


@pytest.mark.postgres
def test_a_worker_adds_up_the_runs_of_its_pool_processes(
    tmp_path: Path, postgres_url: str, redis_url: str, started: list[Process]
) -> None:
    queue = f"m-{uuid.uuid4().hex[:10]}"
    home = tmp_path / "home"
    settings = {
        "FLX_DATABASE_URL": postgres_url,
        "FLX_EXECUTOR": "celery",
        "FLX_BROKER_URL": BROKER,
        "FLX_DEFAULT_QUEUE": queue,
    }
    worker = Process(
        ["worker", "--concurrency", "2", "--metrics-port", "0", "--metrics-host", "127.0.0.1"],
        clean_env(home, **settings),
        tmp_path / "worker.log",
    )
    started.append(worker)
    url = worker.wait_for(ANNOUNCED).group(1)
    worker.wait_for(re.compile(r" ready\."))

    async def runs() -> list[Any]:
        from flx_core.application import CreatePipeline
        from flx_core.bootstrap import bootstrap
        from flx_core.config import FlxSettings
        from flx_core.domain import Principal
        from flx_meltano import RegisterBuiltinPlugins, RunPipeline

        me = Principal.system()
        rt = await bootstrap(
            FlxSettings(
                home=home,
                database_url=postgres_url,
                executor="celery",
                broker_url=BROKER,
                default_queue=queue,
            )
        )
        try:
            assert (await rt.app.execute(RegisterBuiltinPlugins(), principal=me)).ok
            for name in ("m1", "m2"):
                created = await rt.app.execute(
                    CreatePipeline(
                        name=name,
                        extractor="tap-flx-sample",
                        loader="target-flx-jsonl",
                        config={
                            "tap-flx-sample": {"rows": 20},
                            "target-flx-jsonl": {"destination_path": str(tmp_path / name)},
                        },
                    ),
                    principal=me,
                )
                assert created.ok, created.message
            requested = [
                (await rt.app.execute(RunPipeline(pipeline=n), principal=me)).value
                for n in ("m1", "m2")
            ]
            return [await rt.executor.wait(e.id) for e in requested]
        finally:
            await rt.aclose()

    done = asyncio.run(runs())
    assert [e.status.value for e in done] == ["succeeded", "succeeded"], worker.output()
    m = scrape(url)
    assert m[("flx_worker_runs_total", (("status", "succeeded"),))] == 2
    assert m[("flx_worker_runs_active", ())] == 0
    assert not [name for name, _ in m if name.startswith("flx_executions_total")]

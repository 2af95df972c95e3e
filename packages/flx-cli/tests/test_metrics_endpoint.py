"""``/metrics`` of `flx serve` after real runs of the built-in sample tap: executions that
a separate process ran (as `flx demo` does) are counted by the server, and counters move
by exactly what later runs moved.

One server for the module; the runs happen in this process, on the same FLX_HOME.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from flx_api.testing import free_port
from flx_cli.testing import ServeProcess, serve_environment

GRPC_PORT = free_port()
EMAIL = "ops@example.com"
PASSWORD = "correct horse battery staple"
SYSTEM: Any = None


def _settings(home: Path) -> Any:
    from flx_core.config import load_settings

    return load_settings(home=home)


async def _runs(home: Path, names: list[str]) -> list[Any]:
    """Run ``names`` one after the other in a process of this test (a `flx run`), creating
    the pipelines on first use: ``demo`` (sample tap into JSONL files) and ``broken``
    (its target cannot open its database: a directory)."""
    from flx_core.application import CreatePipeline, GetPipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins, RunPipeline

    me = Principal.system()
    rt = await bootstrap(_settings(home))
    try:
        assert (await rt.app.execute(RegisterBuiltinPlugins(), principal=me)).ok
        pipelines = {
            "demo": CreatePipeline(
                name="demo",
                extractor="tap-flx-sample",
                loader="target-flx-jsonl",
                config={
                    "tap-flx-sample": {"rows": 25, "seed": 7},
                    "target-flx-jsonl": {"destination_path": str(home / "out")},
                },
            ),
            "broken": CreatePipeline(
                name="broken",
                extractor="tap-flx-sample",
                loader="target-flx-sqlite",
                config={
                    "tap-flx-sample": {"rows": 5},
                    "target-flx-sqlite": {"database": str(home)},
                },
            ),
        }
        done = []
        for name in names:
            if not (await rt.app.execute(GetPipeline(pipeline=name), principal=me)).ok:
                assert (await rt.app.execute(pipelines[name], principal=me)).ok
            requested = await rt.app.execute(RunPipeline(pipeline=name), principal=me)
            assert requested.ok, requested.message
            done.append(await rt.executor.wait(requested.value.id))
        return done
    finally:
        await rt.aclose()


def run(home: Path, *names: str) -> list[Any]:
    with pytest.MonkeyPatch.context() as mp:
        for key in list(os.environ):
            if key.startswith("FLX_") and not key.startswith("FLX_TEST_"):
                mp.delenv(key)
        mp.setenv("FLX_HOME", str(home))
        return asyncio.run(_runs(home, list(names)))


def scrape(
    server: ServeProcess, token: str | None = "scrape-token"
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    response = httpx.get(f"{server.url}/metrics", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("metrics") / "home"


@pytest.fixture(scope="module")
def first_runs(home: Path) -> list[Any]:
    """Two runs of demo and one of broken, by a process that ended before the server."""
    return run(home, "demo", "demo", "broken")


@pytest.fixture(scope="module")
def server(home: Path, first_runs: list[Any]) -> Iterator[ServeProcess]:
    env = serve_environment(
        home,
        FLX_ADMIN_EMAIL=EMAIL,
        FLX_ADMIN_PASSWORD=PASSWORD,
        FLX_METRICS_CACHE_SECONDS="0",
        FLX_METRICS_TOKEN="scrape-token",
        FLX_GRPC_PORT=str(GRPC_PORT),
    )
    with ServeProcess(env, "--no-scheduler", cwd=home.parent) as s:
        yield s


def test_runs_of_another_process_are_counted_per_pipeline_status_and_stream(
    server: ServeProcess, first_runs: list[Any]
) -> None:
    demo1, demo2, broken = first_runs
    assert (demo1.status.value, demo2.status.value, broken.status.value) == (
        "succeeded",
        "succeeded",
        "failed",
    )
    m = scrape(server)
    assert value(m, "flx_executions_total", pipeline="demo", status="succeeded") == 2
    assert value(m, "flx_executions_total", pipeline="broken", status="failed") == 1
    assert ("flx_executions_total", (("pipeline", "demo"), ("status", "failed"))) not in m
    streams = set(demo1.stream_counts) | set(demo2.stream_counts)
    assert streams, "the sample tap moved no stream"
    for stream in streams:
        moved = demo1.stream_counts.get(stream, 0) + demo2.stream_counts.get(stream, 0)
        assert value(m, "flx_records_total", pipeline="demo", stream=stream) == moved
    assert value(m, "flx_bytes_total", pipeline="demo") == demo1.bytes + demo2.bytes > 0
    assert value(m, "flx_state_commits_total", pipeline="demo") == (
        demo1.state_commits + demo2.state_commits
    )
    labels = {"pipeline": "demo", "status": "succeeded"}
    assert value(m, "flx_execution_duration_seconds_count", **labels) == 2
    assert value(m, "flx_execution_duration_seconds_bucket", le="+Inf", **labels) == 2
    took = sum(e.duration.seconds for e in (demo1, demo2))
    assert value(m, "flx_execution_duration_seconds_sum", **labels) == pytest.approx(took, abs=0.01)
    # The KPIs: demo all good, broken failing once in a row; neither has a schedule.
    assert value(m, "flx_pipeline_success_rate_24h", pipeline="demo") == 1.0
    assert value(m, "flx_pipeline_success_rate_24h", pipeline="broken") == 0.0
    assert value(m, "flx_pipeline_consecutive_failures", pipeline="broken") == 1
    assert value(m, "flx_pipeline_consecutive_failures", pipeline="demo") == 0
    assert 0 <= value(m, "flx_pipeline_freshness_seconds", pipeline="demo") < 600
    assert ("flx_pipeline_freshness_seconds", (("pipeline", "broken"),)) not in m
    assert value(m, "flx_pipeline_overdue", pipeline="demo") == 0
    assert value(m, "flx_executions_running", pipeline="demo") == 0
    assert value(m, "flx_executions_queued", pipeline="demo") == 0
    assert value(m, "flx_metrics_read_errors_total") == 0
    assert value(m, "flx_executions_unattended", kind="running") == 0
    # No scheduler has ever ticked on this database (the server runs without one).
    assert ("flx_scheduler_last_seen_timestamp_seconds", ()) not in m


def test_counters_move_by_what_a_later_run_moved(
    server: ServeProcess, home: Path, first_runs: list[Any]
) -> None:
    before = scrape(server)
    [third] = run(home, "demo")
    after = scrape(server)
    key = {"pipeline": "demo", "status": "succeeded"}
    assert (
        value(after, "flx_executions_total", **key) - value(before, "flx_executions_total", **key)
        == 1
    )
    for stream, count in third.stream_counts.items():
        moved = value(after, "flx_records_total", pipeline="demo", stream=stream) - value(
            before, "flx_records_total", pipeline="demo", stream=stream
        )
        assert moved == count
    assert (
        value(after, "flx_bytes_total", pipeline="demo")
        - value(before, "flx_bytes_total", pipeline="demo")
        == third.bytes
    )


def test_requests_logins_and_the_token(server: ServeProcess) -> None:
    before = scrape(server)
    with server.client() as client:
        assert client.get("/api/v1/pipelines/demo").status_code == 401
        assert client.get("/api/v1/pipelines/other").status_code == 401
        assert client.get("/no/such/path/123").status_code == 404
        for email in (EMAIL, "nobody@example.com"):
            bad = client.post("/api/v1/auth/login", json={"email": email, "password": "wrong!"})
            assert bad.status_code == 401
    after = scrape(server)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    # Route templates, never raw paths or ids.
    route = {"method": "GET", "route": "/api/v1/pipelines/{pipeline}", "status": "401"}
    assert moved("flx_http_requests_total", **route) == 2
    assert moved("flx_http_requests_total", method="GET", route="unmatched", status="404") == 1
    assert not [
        k
        for k in after
        if any("demo" in v or "/123" in v for _, v in k[1]) and k[0].startswith("flx_http")
    ]
    assert moved("flx_http_request_duration_seconds_count", method="GET", route=route["route"]) == 2
    assert (
        sum(v for (n, _), v in after.items() if n == "flx_login_failures_total")
        - sum(v for (n, _), v in before.items() if n == "flx_login_failures_total")
        == 2
    )
    assert not [k for k in after if any("example.com" in v for _, v in k[1])]
    # Without the token, or with another, nothing.
    assert httpx.get(f"{server.url}/metrics", timeout=30).status_code == 401
    wrong = httpx.get(f"{server.url}/metrics", headers={"Authorization": "Bearer nope"}, timeout=30)
    assert wrong.status_code == 401 and "flx_" not in wrong.text


def test_grpc_calls_are_counted(server: ServeProcess) -> None:
    import grpc

    method = "/grpc.health.v1.Health/Check"
    labels = {"method": method, "code": "OK"}
    before = value(scrape(server), "flx_grpc_requests_total", **labels)
    with grpc.insecure_channel(f"127.0.0.1:{GRPC_PORT}") as channel:
        check = channel.unary_unary(method)  # an empty HealthCheckRequest: the server's health
        for _ in range(2):
            check(b"", timeout=30)
    after = scrape(server)
    assert value(after, "flx_grpc_requests_total", **labels) - before == 2
    assert value(after, "flx_grpc_request_duration_seconds_count", method=method) >= 2

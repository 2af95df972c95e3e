"""The REST API under load, against a bare FastAPI endpoint on the same PostgreSQL database.

    uv run python bench/bench_api.py [--executions 1000000] [--pipelines 50] [--seconds 10]
                                     [--concurrency 100] [--database postgresql://...] [--keep]

Creates a database of its own (``flx_bench_api`` on the server of ``--database``, dropped at
the end unless ``--keep``), migrates it, creates the users, the built-in plugins and
``--pipelines`` pipelines through the application, then writes ``--executions`` executions in
one ``INSERT ... SELECT generate_series`` (pipelines, statuses, triggers, attempts, durations,
record counts and a year of creation times spread like a scheduler's; many share a second, so
the pages' tie-breaker on the id is exercised). Then it starts, each in its own process:

- the FLX API as ``flx serve`` builds it (``create_app`` + ``bootstrap(kind=SERVER)``, one
  uvicorn worker, ``FLX_API_RATE_LIMIT=1000000/minute`` so that the limit never answers);
- the reference: a bare FastAPI endpoint in its own uvicorn worker, reading one execution by
  primary key with SQLAlchemy's async engine on the same driver (psycopg 3);
- for each target in turn, a load generator: ``--concurrency`` keep-alive clients for
  ``--seconds`` seconds (after one second of warm-up), each sending its next request as soon
  as the previous one is answered.

Targets: (a) ``GET /api/v1/pipelines/{id}`` (cycling over the pipelines), (b) the first page of
``GET /api/v1/executions?limit=50``, (c) a middle page and the last page (their cursors are
built from the rows at those depths, then checked against the API: the last page must say
there is no next one), ``GET /api/v1/executions/{id}`` and (d) the bare endpoint, both cycling
over the same 1,000 executions; and, to show where the time of a read goes, ``/health/live``
(the middlewares alone) and ``/api/v1/auth/me`` (the token's check and one read). Prints p50,
p99 and requests per second of each, the ratios to the bare endpoint measured in the same
run, and the flatness of the pages (their latency without load, and the middle and last
pages' p50 over the first page's).

The servers and the load generator share the machine's cores: figures are for comparing
with each other in one run, not absolute capacities. Not a timed test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
SERVER = os.environ.get("FLX_BENCH_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
DATABASE = "flx_bench_api"
EMAIL, PASSWORD = "bench@example.com", "bench password, long enough"
REFERENCE = "bare GET /executions/{id}"

#: One execution per row of generate_series: pipeline ``i % pipelines``, created every 30 s
#: back from now (truncated to the second), 85% succeeded / 10% failed / 5% cancelled, 70%
#: scheduled / 15% manual / 10% api / 5% retries (attempt 2 of the run one cycle before).
INSERT_EXECUTIONS = """
WITH p AS (SELECT array_agg(id ORDER BY name) AS ids, array_agg(name ORDER BY name) AS names,
                  count(*) AS n FROM pipelines),
     g AS (SELECT i, random() AS r, random() AS r2,
                  date_trunc('second', now() - (%(n)s - i) * interval '30 seconds') AS at
           FROM generate_series(1, %(n)s) AS i)
INSERT INTO executions (id, pipeline_id, pipeline_name, status, trigger, requested_by, attempt,
    retry_of, idempotency_key, scheduled_for, not_before, queue, full_refresh, created_at,
    started_at, finished_at, heartbeat_at, host, pid, exit_codes, stream_counts, records, bytes,
    state_commits, error, log_path, cancel_requested, details, version)
SELECT md5('e' || i), p.ids[1 + i %% p.n], p.names[1 + i %% p.n],
    CASE WHEN r < 0.85 THEN 'succeeded' WHEN r < 0.95 THEN 'failed' ELSE 'cancelled' END,
    CASE WHEN r2 < 0.70 THEN 'schedule' WHEN r2 < 0.85 THEN 'manual' WHEN r2 < 0.95 THEN 'api'
         ELSE 'retry' END,
    CASE WHEN r2 < 0.70 THEN 'scheduler' ELSE 'operator@example.com' END,
    CASE WHEN r2 >= 0.95 THEN 2 ELSE 1 END,
    CASE WHEN r2 >= 0.95 THEN md5('e' || greatest(1, i - p.n)) END,
    NULL, CASE WHEN r2 < 0.70 THEN at END, NULL, NULL, r2 < 0.02, at,
    at + interval '1 second', at + interval '1 second' + (r * 600) * interval '1 second',
    at + interval '1 second' + (r * 600) * interval '1 second',
    'worker-' || (i %% 4), 1000 + i %% 30000,
    '{"tap-flx-sample": 0, "target-flx-jsonl": 0}',
    json_build_object('users', (r * 10000)::int, 'orders', (r2 * 5000)::int),
    (r * 15000)::int, (r * 15000)::int * 180, 1 + (r * 5)::int,
    CASE WHEN r >= 0.85 AND r < 0.95 THEN 'target-flx-jsonl exited with 1' END,
    'logs/' || md5('e' || i) || '.log', false, '{}', 3
FROM g, p
"""


def database_url(server: str, name: str) -> str:
    return f"{server.rpartition('/')[0]}/{name}"


def admin(server: str, sql: str) -> None:
    import psycopg

    with psycopg.connect(server, autocommit=True, connect_timeout=5) as conn:
        conn.execute(sql)


async def prepare(url: str, home: Path, pipelines: int) -> None:
    """A user, the built-in plugins and the pipelines, through the application."""
    from pydantic import SecretStr

    from flx_auth import CreateUser, Role
    from flx_core.application import CreatePipeline
    from flx_core.bootstrap import bootstrap
    from flx_core.config import FlxSettings
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins

    runtime = await bootstrap(FlxSettings(home=home, database_url=url), migrate=False)
    me = Principal.system()
    try:
        steps: list[Any] = [
            CreateUser(email=EMAIL, password=SecretStr(PASSWORD), roles=frozenset({Role.ADMIN})),
            RegisterBuiltinPlugins(),
            *(
                CreatePipeline(
                    name=f"bench-{n:03d}",
                    extractor="tap-flx-sample",
                    loader="target-flx-jsonl",
                    schedule="*/30 * * * *",
                    config={"tap-flx-sample": {"rows": 1000}},
                )
                for n in range(pipelines)
            ),
        ]
        for step in steps:
            result = await runtime.app.execute(step, principal=me)
            assert result.ok, result.message
    finally:
        await runtime.aclose()


def insert_executions(url: str, count: int) -> None:
    import psycopg

    with psycopg.connect(url) as conn:
        conn.execute("SELECT setseed(0.42)")
        conn.execute(INSERT_EXECUTIONS, {"n": count})
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE executions")


def rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return list(conn.execute(sql).fetchall())


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path


def start_server(factory: str, env: dict[str, str], log: Path) -> Server:
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "--app-dir",
        str(HERE),
        f"bench_api_support:{factory}",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
        start_new_session=True,
    )
    return Server(factory, process, f"http://127.0.0.1:{port}", log)


def wait_until_up(server: Server, path: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"{server.name} exited: {server.log.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + path, timeout=2).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{server.name} did not answer within 60 s")


def stop(server: Server) -> None:
    if server.process.poll() is None:
        os.killpg(server.process.pid, signal.SIGTERM)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.process.pid, signal.SIGKILL)
            server.process.wait()


def login(api: Server) -> str:
    response = httpx.post(
        api.url + "/api/v1/auth/login", json={"email": EMAIL, "password": PASSWORD}, timeout=30
    )
    response.raise_for_status()
    token: str = response.json()["access_token"]
    return token


def run_load(
    url: str, paths: list[str], seconds: float, concurrency: int, token: str | None
) -> dict[str, Any]:
    command = [sys.executable, str(HERE / "bench_api_support.py"), "--url", url]
    for path in paths:
        command += ["--path", path]
    command += ["--seconds", str(seconds), "--concurrency", str(concurrency)]
    if token:
        command += ["--header", f"Authorization: Bearer {token}"]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def unloaded(url: str, path: str, token: str, times: int = 30) -> float:
    """The median latency (ms) of ``path`` requested alone, one request at a time."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=headers, timeout=60) as client:
        client.get(path).raise_for_status()
        took = []
        for _ in range(times):
            started = time.perf_counter()
            client.get(path).raise_for_status()
            took.append((time.perf_counter() - started) * 1000)
    return statistics.median(took)


def page_cursors(url: str, count: int) -> dict[str, str]:
    """Cursors of the middle page and of the last page, made as the API makes them from the
    row before each page (walking 10,000 pages from the first would take minutes)."""
    from flx_core.infrastructure.persistence.cursor import encode_cursor

    cursors = {}
    for name, offset in (("middle", count // 2), ("last", max(0, count - 51))):
        created, last_id = rows(
            url,
            "SELECT created_at, id FROM executions ORDER BY created_at DESC, id DESC "
            f"OFFSET {offset} LIMIT 1",
        )[0]
        cursors[name] = encode_cursor(created, last_id)
    return cursors


def check_pages(api: Server, url: str, token: str, cursors: dict[str, str]) -> None:
    """The pages are right before they are timed: following ``next_cursor`` from the first
    page gives the executions in the database's order, none twice and none missed (many
    share a second, so the tie-breaker on the id matters); the middle page made from the
    database is full, and the last one is full and names no next page."""
    headers = {"Authorization": f"Bearer {token}"}
    expected = [
        r[0]
        for r in rows(url, "SELECT id FROM executions ORDER BY created_at DESC, id DESC LIMIT 1000")
    ]
    with httpx.Client(base_url=api.url, headers=headers, timeout=60) as client:
        seen: list[str] = []
        params: dict[str, Any] = {"limit": 50}
        while len(seen) < len(expected):
            page = client.get("/api/v1/executions", params=params)
            page.raise_for_status()
            seen += [item["id"] for item in page.json()["items"]]
            params["cursor"] = page.json()["next_cursor"]
        assert seen[: len(expected)] == expected, "following next_cursor skips or repeats"
        middle = client.get("/api/v1/executions", params={"limit": 50, "cursor": cursors["middle"]})
        middle.raise_for_status()
        assert len(middle.json()["items"]) == 50 and middle.json()["next_cursor"]
        last = client.get("/api/v1/executions", params={"limit": 50, "cursor": cursors["last"]})
        last.raise_for_status()
        assert len(last.json()["items"]) == 50, len(last.json()["items"])
        assert last.json()["next_cursor"] is None, "the last page names a next page"


def targets(
    api: Server, bare: Server, url: str, pages: dict[str, str]
) -> list[tuple[str, Server, list[str]]]:
    """What is measured, in order: the reference first. Reads by id cycle over the same
    1,000 executions (a fixed sample spread over the table) and over the pipelines. The
    health probe (no token, no database) and the caller's own account (the token's check
    and one read) split the cost of a read into its layers."""
    pipeline_ids = [r[0] for r in rows(url, "SELECT id FROM pipelines ORDER BY name")]
    execution_ids = [
        r[0] for r in rows(url, "SELECT id FROM executions ORDER BY md5(id) LIMIT 1000")
    ]
    return [
        (REFERENCE, bare, [f"/executions/{i}" for i in execution_ids]),
        # Where the time of a read goes: the middlewares alone, then the token's check.
        ("GET /health/live (no token)", api, ["/health/live"]),
        ("GET /api/v1/auth/me", api, ["/api/v1/auth/me"]),
        ("GET /api/v1/executions/{id}", api, [f"/api/v1/executions/{i}" for i in execution_ids]),
        ("GET /api/v1/pipelines/{id}", api, [f"/api/v1/pipelines/{i}" for i in pipeline_ids]),
        ("executions, first page", api, [pages["first"]]),
        ("executions, middle page", api, [pages["middle"]]),
        ("executions, last page", api, [pages["last"]]),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--executions", type=int, default=1_000_000)
    parser.add_argument("--pipelines", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--database", default=SERVER, help="a PostgreSQL server's URL")
    parser.add_argument("--keep", action="store_true", help="keep the database at the end")
    args = parser.parse_args()
    url = database_url(args.database, DATABASE)
    admin(args.database, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
    admin(args.database, f'CREATE DATABASE "{DATABASE}"')
    servers: list[Server] = []
    try:
        with tempfile.TemporaryDirectory(prefix="flx-bench-api-") as tmp:
            work = Path(tmp)
            from flx_core.infrastructure.persistence import upgrade

            upgrade(url)
            began = time.monotonic()
            asyncio.run(prepare(url, work / "home", args.pipelines))
            insert_executions(url, args.executions)
            print(
                f"{args.executions:,} executions of {args.pipelines} pipelines written in "
                f"{time.monotonic() - began:.1f} s"
            )
            env = {k: v for k, v in os.environ.items() if not k.startswith("FLX_")}
            env.update(
                FLX_HOME=str(work / "home"),
                FLX_DATABASE_URL=url,
                FLX_API_RATE_LIMIT="1000000/minute",
                FLX_LOG_FORMAT="json",
                FLX_DAEMON="off",
            )
            api = start_server("flx_app", env, work / "api.log")
            bare = start_server("bare_app", env, work / "bare.log")
            servers += [api, bare]
            wait_until_up(api, "/health/live")
            wait_until_up(bare, "/executions/none")
            cursors = page_cursors(url, args.executions)
            token = login(api)
            check_pages(api, url, token, cursors)
            page = "/api/v1/executions?limit=50"
            pages = {
                "first": page,
                "middle": f"{page}&cursor={cursors['middle']}",
                "last": f"{page}&cursor={cursors['last']}",
            }
            quiet = {name: unloaded(api.url, path, token) for name, path in pages.items()}
            load_before = os.getloadavg()[0]
            results: dict[str, dict[str, Any]] = {}
            for name, server, paths in targets(api, bare, url, pages):
                bearer = login(api) if server is api else None  # fresh: outlives every run
                results[name] = run_load(server.url, paths, args.seconds, args.concurrency, bearer)
                r = results[name]
                print(
                    f"  measured {name}: {r['rps']:.0f} req/s"
                    + (f" ({r['failures']} not 200)" if r["failures"] else "")
                )
            print(
                f"  load average of the machine: {load_before:.1f} before the runs, "
                f"{os.getloadavg()[0]:.1f} after"
            )
            report(args, results, quiet)
            for server in servers:
                errors = [line for line in server.log.read_text().splitlines() if "Error" in line]
                for line in errors[:5]:
                    print(f"  {server.name} error: {line[:300]}")
    finally:
        for server in servers:
            stop(server)
        if not args.keep:
            admin(args.database, f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')


def report(
    args: argparse.Namespace, results: dict[str, dict[str, Any]], quiet: dict[str, float]
) -> None:
    reference = results[REFERENCE]
    print(
        f"\n{args.executions:,} executions, {args.concurrency} concurrent clients, "
        f"{args.seconds:g} s per target; one uvicorn worker per server; the load generator "
        f"shares the {os.cpu_count()} cores with the servers and PostgreSQL"
    )
    print(
        f"{'target':32}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'not 200':>9}"
        f"{'bare/API req/s':>16}{'API/bare p50':>14}"
    )
    for name, r in results.items():
        print(
            f"{name:32}{r['rps']:9.0f}{r['p50_ms']:9.1f}{r['p99_ms']:9.1f}{r['failures']:9d}"
            f"{reference['rps'] / r['rps']:16.2f}{r['p50_ms'] / reference['p50_ms']:14.2f}"
        )
    first = results["executions, first page"]
    print("\npages of GET /api/v1/executions?limit=50 (flat: the deeper pages cost the same)")
    print(
        f"  alone, median of 30 : first {quiet['first']:.1f} ms, middle "
        f"{quiet['middle']:.1f} ms, last {quiet['last']:.1f} ms"
    )
    for depth in ("middle", "last"):
        r = results[f"executions, {depth} page"]
        print(
            f"  {depth:6} / first, under load: p50 {r['p50_ms'] / first['p50_ms']:.2f}  "
            f"req/s {r['rps'] / first['rps']:.2f}"
        )


if __name__ == "__main__":
    main()

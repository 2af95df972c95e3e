"""The CLI against a server (`flx --server URL`, `FLX_SERVER`) says and does what it says
and does on this machine.

Each test gets a real API server (uvicorn in a thread, the ``server`` process built by
``bootstrap``) on an FLX_HOME of its own, an admin, and a CLI home logged in to it with
`flx auth login`; a second, fresh CLI home is the local side. A sequence of commands runs on
both sides and the outputs and exit codes must match, once ids, times, durations and home
directories (which differ by nature) are normalised.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from flx_api.testing import ApiServer, free_port
from flx_auth import CreateUser, Role
from flx_core.application import ProcessKind
from flx_core.bootstrap import bootstrap
from flx_core.config import FlxSettings
from flx_core.domain import Principal

FLX = str(Path(sys.executable).parent / "flx")
EMAIL = "admin@example.com"
PASSWORD = "correct horse battery staple"


def base_environment(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL", "JWT_SECRET_KEY")
    }
    env.update(FLX_HOME=str(home), FLX_DAEMON="off", **extra)
    return env


@dataclass
class Side:
    """`flx` on one side: this machine's FLX (local) or the server (remote)."""

    name: str
    env: dict[str, str]
    cwd: Path
    server: str | None = None

    def __call__(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        prefix = ["--server", self.server] if self.server else []
        return subprocess.run(
            [FLX, *prefix, *args],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.cwd,
            input=input,
            timeout=120,
            check=False,
        )

    def ok(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        result = self(*args, input=input)
        assert result.returncode == 0, f"{self.name}: flx {' '.join(args)}: {result.stderr}"
        return result

    def last_execution(self, pipeline: str) -> str:
        listed = json.loads(self.ok("--json", "execution", "list", "-p", pipeline).stdout)
        return str(listed["items"][0]["id"])


@dataclass
class Stage:
    server: ApiServer
    settings: FlxSettings
    local: Side
    remote: Side
    work: Path

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def credentials(self) -> Path:
        return Path(self.remote.env["FLX_HOME"]) / "credentials"

    def stored(self) -> dict[str, Any]:
        servers: dict[str, Any] = json.loads(self.credentials.read_text())["servers"]
        return dict(servers[self.url])


def create_admin(settings: FlxSettings) -> None:
    async def go() -> None:
        runtime = await bootstrap(settings, kind=ProcessKind.CLI)
        try:
            admin = CreateUser(
                email=EMAIL, password=SecretStr(PASSWORD), roles=frozenset({Role.ADMIN})
            )
            result = await runtime.app.execute(admin, principal=Principal.system())
            result.unwrap()
        finally:
            await runtime.aclose()

    asyncio.run(go())


@pytest.fixture
def make_stage(tmp_path: Path) -> Iterator[Callable[..., Stage]]:
    """``make_stage(**server_settings)``: a running server with an admin, the remote side
    logged in to it, a fresh local side."""
    servers: list[ApiServer] = []

    def make(**overrides: Any) -> Stage:
        values: dict[str, Any] = {
            "home": tmp_path / "server-home",
            "database_url": None,
            "redis_url": None,
            "bcrypt_rounds": 4,
            "api_rate_limit": "100000/minute",
            "api_login_rate_limit": "100000/minute",
        }
        settings = FlxSettings(**(values | overrides))
        create_admin(settings)

        async def build() -> Any:
            return await bootstrap(settings, kind=ProcessKind.SERVER, migrate=False)

        server = ApiServer(settings, build).__enter__()
        servers.append(server)
        local = Side("local", base_environment(tmp_path / "local-home"), tmp_path)
        remote = Side(
            "remote", base_environment(tmp_path / "cli-home"), tmp_path, server=server.url
        )
        login = remote("auth", "login", "--email", EMAIL, "--password-stdin", input=PASSWORD)
        assert login.returncode == 0, login.stderr
        return Stage(server, settings, local, remote, tmp_path)

    try:
        yield make
    finally:
        for server in servers:
            server.stop()


@pytest.fixture
def stage(make_stage: Callable[..., Stage]) -> Stage:
    return make_stage()


# -- what differs by nature ------------------------------------------------------------------
#: Fields of JSON output that differ between two runs of the same commands: identities,
#: moments, durations, where files are, and who asked (the server records the user and the
#: `api` trigger, this machine `system` and `manual`).
VOLATILE_KEYS = frozenset(
    {
        "id",
        "pipeline_id",
        "execution_id",
        "created_at",
        "updated_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "duration_seconds",
        "host",
        "pid",
        "log_path",
        "trigger",
        "requested_by",
        "details",
        "session_id",
    }
)
_PATTERNS = [
    (re.compile(r"\b[0-9a-f]{32}\b"), "<id>"),
    (re.compile(r"\b[0-9a-f]{12}\b"), "<short-id>"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?"), "<when>"),
    (re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}"), "<when>"),
    (re.compile(r"\b\d+(\.\d+)? ?s\b"), "<secs>"),
    (re.compile(r"\(([\d,]+)/s\)"), "(<rate>)"),
    (re.compile(r"trigger: \w+ \(by [^)]*\)"), "trigger: <trigger>"),
    # A log line printed every few seconds while a run goes (how many depends on timing).
    (re.compile(r"^\[\s*<secs>\].*\n", re.MULTILINE), ""),
]


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<volatile>" if k in VOLATILE_KEYS else _scrub(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


def normalised(text: str, homes: list[str]) -> str:
    with contextlib.suppress(ValueError):
        text = json.dumps(_scrub(json.loads(text)), indent=2) if text.strip() else text
    for home in homes:
        text = text.replace(home, "<home>")
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


@dataclass
class Outcome:
    command: str
    code: int
    stdout: str
    stderr: str


def play(side: Side, steps: list[tuple[str, ...]], homes: list[str]) -> list[Outcome]:
    """Run the steps; ``@last:P`` in a step stands for the id of P's newest execution."""
    outcomes = []
    for step in steps:
        args = tuple(side.last_execution(a[6:]) if a.startswith("@last:") else a for a in step)
        result = side(*args)
        outcomes.append(
            Outcome(
                " ".join(step),
                result.returncode,
                normalised(result.stdout, homes),
                normalised(result.stderr, homes),
            )
        )
    return outcomes


def sample(name: str, out: Path, *extra: str) -> tuple[str, ...]:
    """Create pipeline ``name``: the sample tap into JSONL files under ``out``."""
    return (
        "pipeline",
        "create",
        name,
        "-e",
        "tap-flx-sample",
        "-l",
        "target-flx-jsonl",
        "-c",
        f"loader.destination_path={out}",
        *extra,
    )


#: name -> (steps, the exit code of each step). Each step runs on both sides.
SEQUENCES: dict[str, Callable[[Path], list[tuple[tuple[str, ...], int]]]] = {
    "pipeline-text": lambda out: [
        (sample("orders", out, "--tag", "nightly", "-d", "the orders"), 0),
        (("pipeline", "list"), 0),
        (("pipeline", "show", "orders"), 0),
        (("pipeline", "update", "orders", "--description", "changed", "--retries", "2"), 0),
        (("pipeline", "update", "orders", "--if-version", "1", "-d", "stale"), 1),
        (("pipeline", "show", "ghost"), 1),
        (("pipeline", "disable", "orders"), 0),
        (("pipeline", "delete", "orders", "-y"), 0),
        (("pipeline", "list"), 0),
    ],
    "pipeline-json": lambda out: [
        (("--json", *sample("orders", out, "--tag", "nightly")), 0),
        (("pipeline", "list", "--json"), 0),
        (("--json", "pipeline", "show", "orders"), 0),
        (("--json", "pipeline", "update", "orders", "--schedule", "0 0 1 1 *"), 0),
        (("--json", "pipeline", "delete", "orders", "-y"), 0),
        (("--json", "pipeline", "list", "--name-contains", "ord"), 0),
    ],
    "plugins": lambda out: [
        (("plugin", "list"), 0),
        (("plugin", "show", "tap-flx-sample"), 0),
        (("plugin", "set", "tap-flx-sample", "start_date", "2026-02-01T00:00:00Z"), 0),
        (("plugin", "set", "tap-flx-sample", "api_key", "s3cret-value", "--secret"), 0),
        (("--json", "plugin", "show", "tap-flx-sample"), 0),
        (("plugin", "unset", "tap-flx-sample", "start_date"), 0),
        (("--json", "plugin", "unset", "tap-flx-sample", "api_key"), 0),
        (("plugin", "set", "tap-ghost", "x", "1"), 1),
    ],
    "run-and-inspect": lambda out: [
        (sample("orders", out), 0),
        (("run", "orders"), 0),
        (("execution", "list"), 0),
        (("execution", "list", "--json", "-p", "orders"), 0),
        (("execution", "show", "@last:orders"), 0),
        (("--json", "execution", "show", "@last:orders"), 0),
        (("execution", "logs", "@last:orders", "--tail", "1"), 0),
        (("state", "get", "orders"), 0),
        (("state", "set", "orders", '{"bookmarks": {}}'), 0),
        (("state", "history", "orders"), 0),
        (("--json", "state", "get", "orders"), 0),
        (("run", "ghost"), 1),
    ],
    "failing-run": lambda out: [
        (sample("broken", out, "-c", "extractor.start_date=not-a-date"), 0),
        (("run", "broken"), 1),
        (("--json", "run", "broken"), 1),
        (("execution", "list", "-p", "broken"), 0),
        (("execution", "show", "@last:broken"), 0),
        (("state", "get", "broken"), 1),
    ],
    "schedules": lambda out: [
        (("schedule", "list"), 0),
        (sample("yearly", out, "--schedule", "0 0 1 1 *", "--timezone", "Europe/Paris"), 0),
        (("schedule", "list"), 0),
        (("schedule", "list", "--next", "2", "--json"), 0),
    ],
}


@pytest.mark.parametrize("sequence", sorted(SEQUENCES))
def test_same_output_and_exit_codes_locally_and_against_a_server(
    stage: Stage, sequence: str
) -> None:
    out = stage.work / "out"
    steps = SEQUENCES[sequence](out)
    homes = [
        str(Path(stage.local.env["FLX_HOME"]).resolve()),
        str(stage.settings.home_path),
    ]
    sides = {side.name: side for side in (stage.local, stage.remote)}
    played = {name: play(side, [s for s, _ in steps], homes) for name, side in sides.items()}
    for (_, code), here, there in zip(steps, played["local"], played["remote"], strict=True):
        assert here.code == code, f"local: {here}"
        assert there.code == code, f"remote: {there}"
        assert there.stdout == here.stdout, f"flx {here.command}: stdout differs"
        assert there.stderr == here.stderr, f"flx {here.command}: stderr differs"


# -- logging in, tokens, errors ----------------------------------------------------------------
def test_the_tokens_are_kept_private_and_never_printed(stage: Stage) -> None:
    home = stage.credentials.parent
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE(stage.credentials.stat().st_mode) == 0o600
    stored = stage.stored()
    assert stored["email"] == EMAIL
    again = stage.remote.ok("auth", "login", "--email", EMAIL, "--password-stdin", input=PASSWORD)
    assert stored["access_token"] not in again.stdout + again.stderr
    assert stage.stored()["refresh_token"] not in again.stdout + again.stderr
    assert again.stdout.splitlines()[0] == f"logged in to {stage.url} as {EMAIL}"
    status = json.loads(stage.remote.ok("--json", "auth", "status").stdout)
    assert status["email"] == EMAIL and status["roles"] == ["admin"]
    assert status["session_id"] == stage.stored()["session_id"]


def test_an_expired_access_token_is_refreshed_and_the_new_pair_stored(
    make_stage: Callable[..., Stage],
) -> None:
    stage = make_stage(access_token_ttl_seconds=1)
    before = stage.stored()
    stage.remote.ok("pipeline", "create", "p", "-e", "tap-flx-sample", "-l", "target-flx-jsonl")
    after = stage.stored()
    assert after["access_token"] != before["access_token"]
    assert after["refresh_token"] != before["refresh_token"]  # rotated, and stored
    listed = json.loads(stage.remote.ok("--json", "pipeline", "list").stdout)
    assert [p["name"] for p in listed["items"]] == ["p"]
    # The first refresh token was spent (showing it again ends the session, so last).
    with httpx.Client(base_url=stage.url) as client:
        spent = client.post("/api/v1/auth/refresh", json={"refresh_token": before["refresh_token"]})
        assert spent.status_code == 401


def test_a_refused_access_token_is_refreshed_once_and_the_command_goes_on(stage: Stage) -> None:
    """A token the server refuses before its time (here: garbled) gets one refresh."""
    data = json.loads(stage.credentials.read_text())
    data["servers"][stage.url]["access_token"] = "garbled"
    stage.credentials.write_text(json.dumps(data))
    listed = stage.remote.ok("pipeline", "list")
    assert listed.stdout.startswith("Pipelines")
    assert stage.stored()["access_token"] != "garbled"


def test_a_session_that_ended_asks_to_log_in_again_in_one_line(stage: Stage) -> None:
    data = json.loads(stage.credentials.read_text())
    entry = data["servers"][stage.url]
    entry["access_token"] = "garbled"
    entry["refresh_token"] = "garbled-too"
    stage.credentials.write_text(json.dumps(data))
    refused = stage.remote("pipeline", "list")
    assert refused.returncode == 1
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"error: not logged in to {stage.url}")
    assert lines[0].endswith(f"run `flx --server {stage.url} auth login`")
    assert not stage.credentials.exists()  # dead tokens are forgotten


def test_logout_ends_the_session_and_forgets_the_tokens(stage: Stage) -> None:
    refresh_token = stage.stored()["refresh_token"]
    assert stage.remote.ok("auth", "logout").stdout.strip() == f"logged out of {stage.url}"
    assert not stage.credentials.exists()
    with httpx.Client(base_url=stage.url) as client:
        reused = client.post("/api/v1/auth/refresh", json={"refresh_token": refresh_token})
        assert reused.status_code == 401
    after = stage.remote("pipeline", "list")
    assert after.returncode == 1
    assert after.stderr.strip() == (
        f"error: not logged in to {stage.url}: run `flx --server {stage.url} auth login`"
    )
    assert stage.remote.ok("auth", "logout").stdout.strip() == f"not logged in to {stage.url}"


def test_a_wrong_password_is_one_line(stage: Stage) -> None:
    refused = stage.remote("auth", "login", "--email", EMAIL, "--password-stdin", input="nope")
    assert refused.returncode == 1
    assert refused.stderr.strip() == "error: invalid email or password"


def test_the_server_from_the_environment(stage: Stage) -> None:
    stage.remote.ok(*sample("from-env", stage.work / "out"))
    env = {**stage.remote.env, "FLX_SERVER": stage.url}
    plain = Side("env", env, stage.work)
    listed = json.loads(plain.ok("pipeline", "list", "--json").stdout)
    assert [p["name"] for p in listed["items"]] == ["from-env"]
    assert "from-env" in plain.ok("pipeline", "list").stdout
    # This machine's own FLX (no server) has no such pipeline.
    local = Side("local", stage.remote.env, stage.work)
    assert json.loads(local.ok("--json", "pipeline", "list").stdout)["items"] == []


def test_a_server_that_does_not_answer_is_one_line_naming_it(stage: Stage) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    data = json.loads(stage.credentials.read_text())
    data["servers"][dead] = data["servers"][stage.url]
    stage.credentials.write_text(json.dumps(data))
    result = Side("dead", stage.remote.env, stage.work, server=dead)("pipeline", "list")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"error: cannot connect to the FLX server at {dead}: Connection refused"]
    login = Side("dead", stage.remote.env, stage.work, server=dead)(
        "auth", "login", "--email", EMAIL, "--password-stdin", input=PASSWORD
    )
    assert login.returncode == 1 and dead in login.stderr
    assert len(login.stderr.strip().splitlines()) == 1


def test_what_a_server_cannot_do_is_one_clear_line(stage: Stage) -> None:
    result = stage.remote("auth", "rotate-keys")
    assert result.returncode == 1
    assert result.stderr.startswith("error: not available against a server (RotateKeys")
    assert len(result.stderr.strip().splitlines()) == 1
    bad = Side("bad", stage.remote.env, stage.work, server="ftp://example.com")("pipeline", "list")
    assert bad.returncode == 2 and "is not an http:// or https:// URL" in bad.stderr


def test_run_streams_the_log_live_with_verbose_and_fails_like_locally(stage: Stage) -> None:
    out = stage.work / "out"
    stage.remote.ok(*sample("orders", out))
    shown = stage.remote.ok("-v", "run", "orders")
    assert "tap-flx-sample" in shown.stderr and "run succeeded" in shown.stderr
    assert "orders: succeeded" in shown.stdout
    assert (out / "orders.jsonl").exists() or any(out.iterdir())
    stage.remote.ok(*sample("broken", out, "-c", "extractor.start_date=never"))
    failed = stage.remote("-v", "run", "broken")
    assert failed.returncode == 1
    assert "config start_date is not an ISO date" in failed.stderr


CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"


def slow_pipeline(stage: Stage, rows: int = 3000) -> None:
    """Pipeline ``slow`` on the server: the fixture tap, ``rows`` rows 50 ms apart."""
    bindir = stage.work / "bin"
    bindir.mkdir(exist_ok=True)
    for plugin, kind, script in (
        ("tap-fixture", "extractor", "tap_fixture.py"),
        ("target-fixture", "loader", "target_fixture.py"),
    ):
        path = bindir / plugin
        path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
        path.chmod(0o755)
        stage.remote.ok("plugin", "add", kind, plugin, "--executable", str(path))
    stage.remote.ok(
        "pipeline", "create", "slow", "-e", "tap-fixture", "-l", "target-fixture",
        "-c", f"loader.path={stage.work / 'slow.json'}",
        "-c", f"extractor.rows={rows}", "-c", "extractor.sleep=0.05",
    )  # fmt: skip


def running(stage: Stage, deadline: float = 60) -> str:
    """The id of pipeline slow's execution once it runs."""
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        listed = json.loads(stage.remote.ok("--json", "execution", "list", "-p", "slow").stdout)
        if listed["items"] and listed["items"][0]["status"] == "running":
            return str(listed["items"][0]["id"])
        time.sleep(0.3)
    raise AssertionError("the run never got going")


def test_ctrl_c_cancels_the_run_on_the_server_and_exits_1(stage: Stage) -> None:
    slow_pipeline(stage)
    command = [FLX, "--server", stage.url, "run", "slow"]
    proc = subprocess.Popen(
        command, env=stage.remote.env, cwd=stage.work, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        execution_id = running(stage)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1, err
    assert "cancelling" in err and "slow: cancelled" in out
    shown = json.loads(stage.remote.ok("--json", "execution", "show", execution_id).stdout)
    assert shown["status"] == "cancelled" and shown["records"] < 3000


def test_cancel_from_another_shell_ends_the_followed_run(stage: Stage) -> None:
    slow_pipeline(stage)
    proc = subprocess.Popen(
        [FLX, "--server", stage.url, "run", "slow"], env=stage.remote.env, cwd=stage.work,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        execution_id = running(stage)
        stage.remote.ok("execution", "cancel", execution_id[:12])
        out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
        proc.communicate()
    assert proc.returncode == 1, err
    assert "slow: cancelled" in out


def test_detach_queues_on_the_server_and_logs_follow_to_the_end(stage: Stage) -> None:
    slow_pipeline(stage, rows=100)
    detached = stage.remote.ok("run", "slow", "--detach")
    execution_id = detached.stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", execution_id)
    followed = stage.remote.ok("execution", "logs", execution_id[:12], "--follow")
    assert "run succeeded" in followed.stdout
    shown = json.loads(stage.remote.ok("--json", "execution", "show", execution_id).stdout)
    assert shown["status"] == "succeeded" and shown["records"] == 100
    # What the stream printed is the log, byte for byte.
    assert stage.remote.ok("execution", "logs", execution_id).stdout == followed.stdout


def test_help_imports_no_http_client() -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flx_cli.app import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0 and '--server' in r.output, r.output\n"
        "print(','.join(m for m in ('httpx', 'httpx_sse') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""

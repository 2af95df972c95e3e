"""Fixtures of the CLI's process-level tests: `flx` in a fresh home with fixture connectors,
run in its own process (``cli``) or through a daemon of its own (``warm_cli``)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

FLX = str(Path(sys.executable).parent / "flx")
CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.split(") ", 1)[1][:1] != "Z"


class Flx:
    """`flx` in a fresh home under ``work``; with ``runtime``, through a daemon of its own."""

    def __init__(self, work: Path, runtime: Path | None = None) -> None:
        self.work = work
        self.runtime = runtime
        self.env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
        }
        self.env.update(
            FLX_HOME=str(work / "home"),
            FLX_HEARTBEAT_SECONDS="0.5",
            FLX_TERMINATION_GRACE_SECONDS="3",
        )
        if runtime is None:
            self.env["FLX_DAEMON"] = "off"
        else:
            self.env.update(FLX_DAEMON="auto", FLX_DAEMON_DIR=str(runtime))

    def __call__(
        self,
        *args: str,
        check: bool = True,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [FLX, *args],
            env=env or self.env,
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"flx {' '.join(args)} failed: {result.stderr}")
        return result

    def start(self, *args: str, capture: bool = True) -> subprocess.Popen[str]:
        """`flx ARGS` in the background."""
        out = subprocess.PIPE if capture else subprocess.DEVNULL
        return subprocess.Popen([FLX, *args], env=self.env, stdout=out, stderr=out, text=True)

    def add_fixture_pipeline(self, name: str = "slow", **config: object) -> Path:
        """Pipeline ``name``: the fixture tap (extractor settings ``config``) into the fixture
        target, which writes ``<work>/<name>.json``; returns that path."""
        bindir = self.work / "bin"
        bindir.mkdir(exist_ok=True)
        for plugin, script in (
            ("tap-fixture", "tap_fixture.py"),
            ("target-fixture", "target_fixture.py"),
        ):
            path = bindir / plugin
            path.write_text(f'#!/bin/sh\nexec {sys.executable} {CONNECTORS / script} "$@"\n')
            path.chmod(0o755)
        if not (self.work / "home" / "flx.db").exists():
            self(
                "plugin",
                "add",
                "extractor",
                "tap-fixture",
                "--executable",
                str(bindir / "tap-fixture"),
                "--capabilities",
                "state",
            )
            self(
                "plugin",
                "add",
                "loader",
                "target-fixture",
                "--executable",
                str(bindir / "target-fixture"),
            )
        out = self.work / f"{name}.json"
        settings = [f"loader.path={out}", *(f"extractor.{k}={v}" for k, v in config.items())]
        args = [a for s in settings for a in ("--config", s)]
        self("pipeline", "create", name, "-e", "tap-fixture", "-l", "target-fixture", *args)
        return out

    def wait_running(self, pipeline: str = "slow", deadline: float = 30) -> str:
        """The id of the pipeline's running execution, once it has moved records."""
        end = time.monotonic() + deadline
        while time.monotonic() < end:
            listed = json.loads(self("--json", "execution", "list", "-p", pipeline).stdout)
            running = [e for e in listed["items"] if e["status"] == "running"]
            if running and running[0]["records"] > 0:
                return str(running[0]["id"])
            time.sleep(0.3)
        raise AssertionError("the run never got going")

    def show(self, execution_id: str) -> dict[str, object]:
        return dict(json.loads(self("--json", "execution", "show", execution_id).stdout))

    def state(self, pipeline: str = "slow") -> object:
        return json.loads(self("state", "get", pipeline).stdout)

    def daemon_status(self) -> dict[str, object] | None:
        result = self("--json", "daemon", "status", check=False)
        return json.loads(result.stdout) if result.returncode == 0 else None

    alive = staticmethod(alive)

    def connector_pids(self) -> list[int]:
        """Live fixture connectors started for this home (their environment names it)."""
        marker = f"FLX_HOME={self.work / 'home'}".encode()
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                cmdline = (entry / "cmdline").read_bytes()
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if b"_fixture.py" in cmdline and marker in environ and alive(int(entry.name)):
                found.append(int(entry.name))
        return found


@pytest.fixture
def cli(tmp_path: Path) -> Flx:
    """`flx` with every run in its own process (FLX_DAEMON=off)."""
    return Flx(tmp_path)


@pytest.fixture
def warm_cli(tmp_path: Path) -> Iterator[Flx]:
    """`flx` with runs through a daemon of this test's own, stopped at the end."""
    # A short private directory: a socket path must stay under 108 bytes.
    runtime = Path(tempfile.mkdtemp(prefix="flxd-", dir="/tmp"))
    flx = Flx(tmp_path, runtime)
    try:
        yield flx
    finally:
        status = flx.daemon_status()
        flx("daemon", "stop", check=False)
        if status is not None:
            # The daemon, and workers a failed test may have left running.
            for pid in [status["pid"], *status["running"]]:  # type: ignore[misc]
                with contextlib.suppress(ProcessLookupError):
                    os.kill(int(pid), signal.SIGKILL)
        shutil.rmtree(runtime, ignore_errors=True)

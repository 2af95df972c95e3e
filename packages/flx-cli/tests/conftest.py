"""Fixtures of the CLI's process-level tests: `flx` in a fresh home with fixture connectors,
run in its own process or through a daemon of the test's own.

``cli`` runs each test that uses it twice: ``cold`` (FLX_DAEMON=off, every command a process
of its own) and ``warm`` (FLX_DAEMON=on, every command through a daemon started for the
test), so the same assertions hold both ways. A test that looks at the cold process tree
itself (the children of `flx run`) is marked ``cold_only``. ``warm_cli`` is the warm one
alone, for the daemon's own tests. A test's daemons, their workers and its connectors are
killed by pid at its end, whatever its outcome.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from flx_core.testing.processes import alive, processes_with

FLX = str(Path(sys.executable).parent / "flx")
CONNECTORS = Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "engine" / "connectors"
MODES = ("cold", "warm")
#: Tests of modules that predate the marker and follow `flx run`'s own children.
COLD_ONLY = frozenset({"test_ctrl_c_cancels_and_leaves_no_children"})
#: A daemon a test failed to stop leaves by itself after this long without a command.
IDLE_SECONDS = "300"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "cold_only: run with the `cli` fixture cold only (it follows `flx`'s children)"
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "cli" not in metafunc.fixturenames:
        return
    cold_only = (
        metafunc.definition.get_closest_marker("cold_only") is not None
        or metafunc.function.__name__ in COLD_ONLY
    )
    metafunc.parametrize("cli", MODES[:1] if cold_only else MODES, indirect=True)


def daemon_pids(runtime: Path) -> list[int]:
    """The daemons started with ``FLX_DAEMON_DIR=runtime``, their workers (forks of them) and
    a launcher on its way to becoming one: all carry that variable from their start."""
    return processes_with(b"flx_cli.daemon.server", f"FLX_DAEMON_DIR={runtime}")


def kill_daemons(runtime: Path) -> None:
    """SIGKILL every daemon process of ``runtime`` (their connectors die with them)."""
    for _ in range(3):  # a launcher may fork the daemon meanwhile
        pids = daemon_pids(runtime)
        if not pids:
            return
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.2)


def private_runtime() -> Path:
    """A directory for a test's daemon sockets: short, as a socket path must stay under
    108 bytes."""
    return Path(tempfile.mkdtemp(prefix="flxd-", dir="/tmp"))


class Terminal:
    """A command whose stdin, stdout and stderr are a pseudo-terminal, as if typed in a shell
    (in a session of its own: the terminal is not its controlling one). What it writes is
    collected until nothing holds the terminal any more."""

    def __init__(self, argv: list[str], env: dict[str, str]) -> None:
        self._controller, terminal = pty.openpty()
        try:
            self.proc = subprocess.Popen(
                argv,
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                env=env,
                start_new_session=True,
            )
        finally:
            os.close(terminal)
        self._chunks: list[bytes] = []
        self._stop = threading.Event()
        self.released = threading.Event()
        """Set once no process holds the terminal (the command and whatever wrote for it)."""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        while not self._stop.is_set():
            if not select.select([self._controller], [], [], 0.2)[0]:
                continue
            try:
                data = os.read(self._controller, 65536)
            except OSError:  # EIO: the last holder closed it
                data = b""
            if not data:
                self.released.set()
                return
            self._chunks.append(data)

    @property
    def output(self) -> str:
        return b"".join(self._chunks).decode(errors="replace")

    def wait(self, timeout: float = 120) -> int:
        code = self.proc.wait(timeout=timeout)
        self.released.wait(timeout=10)
        return code

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stop.set()
        self._reader.join(timeout=10)
        os.close(self._controller)


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
            self.env.update(
                FLX_DAEMON="on", FLX_DAEMON_DIR=str(runtime), FLX_DAEMON_IDLE_SECONDS=IDLE_SECONDS
            )

    @property
    def mode(self) -> str:
        return "cold" if self.runtime is None else "warm"

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

    def in_terminal(self, *args: str, env: dict[str, str] | None = None) -> Terminal:
        """`flx ARGS` in the background, on a terminal of its own (close it at the end)."""
        return Terminal([FLX, *args], env or self.env)

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
        return processes_with(b"_fixture.py", f"FLX_HOME={self.work / 'home'}")

    def clean_up(self) -> None:
        """Kill what the test may have left: its daemon's processes, then its connectors."""
        if self.runtime is not None:
            kill_daemons(self.runtime)
            shutil.rmtree(self.runtime, ignore_errors=True)
        for pid in self.connector_pids():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@pytest.fixture
def cli(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Flx]:
    """`flx` in a fresh home, ``cold`` (each command its own process) or ``warm`` (each
    through a daemon of this test's own, running before the first command)."""
    flx = Flx(tmp_path, private_runtime() if request.param == "warm" else None)
    try:
        if flx.runtime is not None:
            flx("daemon", "start")
        yield flx
    finally:
        flx.clean_up()


@pytest.fixture
def daemon_dir() -> Iterator[Path]:
    """A private FLX_DAEMON_DIR; the daemons started with it are killed at the end."""
    runtime = private_runtime()
    try:
        yield runtime
    finally:
        kill_daemons(runtime)
        shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture
def warm_cli(tmp_path: Path) -> Iterator[Flx]:
    """`flx` with every command through a daemon of this test's own (FLX_DAEMON=on), started
    by the first command or by the test."""
    flx = Flx(tmp_path, private_runtime())
    try:
        yield flx
    finally:
        flx.clean_up()

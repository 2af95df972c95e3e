"""`flx serve` as a process of its own, for tests of the server and of its clients.

Its output goes to a file (a pipe nobody reads would stop a server that logs), its URL is
read from its start line, and everything it started is found by its ``FLX_HOME`` (each test
has its own) and killed by pid when the test ends, whatever happened.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import TracebackType

import httpx

from flx_core.testing.processes import alive, processes_with

FLX = str(Path(sys.executable).parent / "flx")
#: The start line, for people or (--json) for programs.
_START_LINE = re.compile(r'^(?:flx serve: (http://\S+) |\{"url": "(http://[^"]+)")', re.MULTILINE)


def serve_environment(home: Path, **variables: str) -> dict[str, str]:
    """This process's environment without FLX's variables, with FLX_HOME=``home``, no daemon,
    fast password hashing and gRPC on a free port, plus ``variables``."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    # gRPC on any free port: servers of tests running side by side never meet on 50051.
    env.update(FLX_HOME=str(home), FLX_DAEMON="off", FLX_BCRYPT_ROUNDS="4", FLX_GRPC_PORT="0")
    env.update(variables)
    return env


class ServeProcess:
    """``flx serve --port 0 ARGS`` in ``cwd`` with ``env`` (which names its FLX_HOME)."""

    def __init__(self, env: dict[str, str], *args: str, cwd: Path, name: str = "serve") -> None:
        self.env = env
        self.args = ["serve", "--port", "0", *args]
        self.cwd = cwd
        self.log = cwd / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self.url = ""

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def started(self) -> dict[str, object]:
        """The start line of ``flx serve --json``."""
        line = next(x for x in self.output.splitlines() if x.startswith('{"url": '))
        started: dict[str, object] = json.loads(line)
        return started

    @property
    def output(self) -> str:
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def start(self, timeout: float = 120) -> ServeProcess:
        """Start it and return once it answers ``/health/live``."""
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(
                [FLX, *self.args], env=self.env, cwd=self.cwd, stdout=out, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout
        while not self.url:
            if (found := _START_LINE.search(self.output)) is not None:
                self.url = found.group(1) or found.group(2)
                break
            self._still_starting(deadline)
            time.sleep(0.05)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.url}/health/live", timeout=5).status_code == 200:
                    return self
            self._still_starting(deadline)
            time.sleep(0.05)

    def _still_starting(self, deadline: float) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"flx serve exited with {self.proc.returncode}:\n{self.output}")
        if time.monotonic() > deadline:
            raise AssertionError(f"flx serve did not start in time:\n{self.output}")

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30)

    def login(self, email: str, password: str) -> str:
        """An access token of that user."""
        with self.client() as client:
            response = client.post(
                "/api/v1/auth/login", json={"email": email, "password": password}
            )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def send(self, sig: int = signal.SIGTERM) -> None:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 60) -> int:
        """Send ``sig`` and wait for the exit; its code."""
        self.send(sig)
        return self.wait(timeout)

    def wait(self, timeout: float = 60) -> int:
        """Wait for the exit; its code."""
        assert self.proc is not None
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"flx serve did not stop within {timeout:g} s:\n{self.output}"
            ) from None

    def processes(self) -> list[int]:
        """Living processes started with this server's FLX_HOME: the server, its workers,
        their connectors (and any `flx` command a test ran with the same home)."""
        return processes_with(b"", f"FLX_HOME={self.env['FLX_HOME']}")

    def kill_all(self) -> None:
        """SIGKILL the server and whatever carries its FLX_HOME."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        for _ in range(3):
            pids = [p for p in self.processes() if p != os.getpid()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)

    def __enter__(self) -> ServeProcess:
        try:
            return self.start()
        except BaseException:
            self.kill_all()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.kill_all()


__all__ = ["FLX", "ServeProcess", "alive", "serve_environment"]

"""The interactive pipeline builder, driven through a pseudo-terminal as a person types."""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
import re
import select
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

FLX = str(Path(sys.executable).parent / "flx")
BIN = Path(sys.executable).parent
DOWN, ENTER, SPACE, CTRL_C, CTRL_U = "\x1b[B", "\r", " ", "\x03", "\x15"
CURSOR_POSITION_REQUEST = b"\x1b[6n"
#: Terminal control sequences, removed before the text is searched.
CONTROL = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[()][0-9A-Za-z]|\x1b[=>]")


class Keyboard:
    """`flx ARGS` on a terminal of its own: ``expect`` what it shows, ``type`` keys."""

    def __init__(self, args: list[str], env: dict[str, str], cwd: Path) -> None:
        self.fd, terminal = os.openpty()
        fcntl.ioctl(terminal, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        try:
            self.proc = subprocess.Popen(
                [FLX, *args],
                stdin=terminal,
                stdout=terminal,
                stderr=terminal,
                env={**env, "TERM": "xterm"},
                cwd=cwd,
                start_new_session=True,
            )
        finally:
            os.close(terminal)
        self.raw = b""
        self.seen = 0

    @property
    def screen(self) -> str:
        return CONTROL.sub("", self.raw.decode(errors="replace"))

    def _read(self, timeout: float) -> bool:
        if not select.select([self.fd], [], [], timeout)[0]:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: the command is gone
            data = b""
        self.raw += data
        # Answer cursor position requests as a terminal does (top left: room below).
        for _ in range(data.count(CURSOR_POSITION_REQUEST)):
            os.write(self.fd, b"\x1b[1;1R")
        return bool(data)

    def expect(self, text: str, timeout: float = 60) -> None:
        """Wait until ``text`` shows after what the previous ``expect`` matched."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.screen.find(text, self.seen)
            if found >= 0:
                self.seen = found + len(text)
                return
            if time.monotonic() > deadline or not self._read(0.2):
                raise AssertionError(f"{text!r} never showed; the screen:\n{self.screen}")

    def type(self, *keys: str) -> None:
        for key in keys:
            os.write(self.fd, key.encode())
            time.sleep(0.05)

    def finish(self, timeout: float = 60) -> int:
        deadline = time.monotonic() + timeout
        while self._read(0.2) and time.monotonic() < deadline:
            pass
        return self.proc.wait(timeout=max(deadline - time.monotonic(), 1))

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        os.close(self.fd)


@pytest.fixture
def keyboard(cli: Any) -> Iterator[Any]:
    opened: list[Keyboard] = []

    def start(*args: str) -> Keyboard:
        board = Keyboard(list(args), cli.env, cli.work)
        opened.append(board)
        return board

    yield start
    for board in opened:
        board.close()


def test_builds_a_pipeline_from_built_in_connectors(cli: Any, keyboard: Any) -> None:
    database = cli.work / "out.db"
    flx = keyboard("pipeline", "create")
    flx.expect("Pipeline name:")
    flx.type("Bad Name", ENTER)
    flx.expect("invalid pipeline name")
    flx.type(CTRL_U, "sales", ENTER)
    flx.expect("tap-flx-sample (built into FLX)")
    flx.expect("add a new extractor")
    flx.type(ENTER)
    flx.expect("Loader:")
    flx.expect("target-flx-sqlite")
    flx.type(DOWN, ENTER)
    flx.expect("discovering the streams of tap-flx-sample")
    flx.expect("events (5 properties, INCREMENTAL by updated_at)")
    flx.type(ENTER)  # nothing checked yet: refused
    flx.expect("choose at least one stream")
    flx.type(SPACE, DOWN, DOWN, SPACE, ENTER)  # users and events
    flx.expect("target-flx-sqlite setting database:")
    flx.type(str(database), ENTER)
    flx.expect("Add a mapper between them?")
    flx.type("n")
    flx.expect("Schedule")
    flx.type("every day", ENTER)
    flx.expect("invalid cron expression")
    flx.type(CTRL_U, "0 3 * * *", ENTER)
    flx.expect("Pipeline sales")
    flx.expect("tap-flx-sample -> target-flx-sqlite")
    flx.expect("Create pipeline sales?")
    flx.type("y")
    flx.expect("created pipeline sales: tap-flx-sample -> target-flx-sqlite")
    assert flx.finish() == 0

    shown = json.loads(cli("--json", "pipeline", "show", "sales").stdout)
    assert shown["extractor"] == "tap-flx-sample" and shown["loader"] == "target-flx-sqlite"
    assert shown["select"] == ["users.*", "events.*"]
    assert shown["config"] == {"target-flx-sqlite": {"database": str(database)}}
    assert shown["schedule"] == "0 3 * * *" and shown["mappers"] == []

    cli("run", "sales")
    execution = json.loads(cli("--json", "execution", "list", "-p", "sales").stdout)["items"][0]
    assert set(execution["stream_counts"]) == {"users", "events"}
    assert not execution["details"].get("warnings")


def add_plugin(**fields: Any) -> None:
    """Add a plugin in this process (on the FLX_HOME of the environment)."""
    from flx_core.application import AddPlugin
    from flx_core.bootstrap import bootstrap
    from flx_core.config import load_settings
    from flx_core.domain import Principal

    async def go() -> None:
        runtime = await bootstrap(load_settings())
        try:
            result = await runtime.app.execute(AddPlugin(**fields), principal=Principal.system())
            assert result.ok, result.message
        finally:
            await runtime.aclose()

    asyncio.run(go())


def test_adds_new_connectors_asks_missing_secrets_hidden_and_mappers(
    cli: Any, keyboard: Any, flx_home: Path
) -> None:
    cli.env["FLX_HOME"] = str(flx_home)
    add_plugin(
        plugin_type="loader",
        name="target-secret",
        executable=str(BIN / "target-flx-jsonl"),
        settings=[{"name": "api_token", "kind": "secret", "required": True}],
    )
    flx = keyboard("pipeline", "create")
    flx.expect("Pipeline name:")
    flx.type("mine", ENTER)
    flx.expect("add a new extractor")
    flx.type(DOWN, ENTER)
    flx.expect("Name of the extractor")
    flx.type("tap-mine", ENTER)
    flx.expect("Where does tap-mine come from?")
    flx.type(DOWN, ENTER)  # an executable
    flx.expect("Executable:")
    flx.type(CTRL_U, str(BIN / "tap-flx-sample"), ENTER)
    flx.expect("Capabilities of the tap")
    flx.type(ENTER)  # catalog, discover, state: checked already
    flx.expect("added extractor tap-mine")
    flx.expect("Loader:")
    flx.expect("target-secret")
    flx.type(DOWN, DOWN, ENTER)  # after the two built-in loaders
    flx.expect("Streams to extract:")
    flx.type(DOWN, SPACE, ENTER)  # orders
    flx.expect("target-secret setting api_token (hidden):")
    flx.type("s3cr3t-value", ENTER)
    flx.expect("Add a mapper between them?")
    flx.type("y")
    flx.expect("add a new mapper")
    flx.type(ENTER)
    flx.expect("Name of the mapper")
    flx.type("map-one", ENTER)
    flx.expect("Where does map-one come from?")
    flx.type(ENTER)  # a package
    flx.expect("pip_url:")
    flx.type(CTRL_U, "meltano-map-transformer", ENTER)
    flx.expect("Install map-one now?")
    flx.type("n")
    flx.expect("Add another mapper?")
    flx.type("n")
    flx.expect("Schedule")
    flx.type(ENTER)
    flx.expect('"api_token": "********"')
    flx.expect("Create pipeline mine?")
    flx.type("y")
    assert flx.finish() == 0
    assert "created pipeline mine: tap-mine -> map-one -> target-secret" in flx.screen
    assert "s3cr3t" not in flx.screen

    shown = json.loads(cli("--json", "pipeline", "show", "mine").stdout)
    assert shown["select"] == ["orders.*"] and shown["mappers"] == ["map-one"]
    assert shown["schedule"] is None
    assert shown["config"] == {"target-secret": {"api_token": "********"}}
    plugins = {p["name"]: p for p in json.loads(cli("--json", "plugin", "list").stdout)}
    assert plugins["tap-mine"]["capabilities"] == ["catalog", "discover", "state"]
    assert plugins["map-one"]["pip_url"] == "meltano-map-transformer"


def test_ctrl_c_leaves_without_creating_anything(cli: Any, keyboard: Any) -> None:
    flx = keyboard("pipeline", "create")
    flx.expect("Pipeline name:")
    flx.type("s", ENTER)
    flx.expect("tap-flx-sample (built into FLX)")
    flx.type(ENTER)
    flx.expect("target-flx-sqlite")
    flx.type(CTRL_C)
    assert flx.finish() == 1
    assert "Aborted" in flx.screen
    assert json.loads(cli("--json", "pipeline", "list").stdout)["items"] == []


def test_without_a_terminal_a_name_is_still_required(cli: Any) -> None:
    result = cli("pipeline", "create", check=False)
    assert result.returncode == 2
    assert "missing name" in result.stderr

"""The example webhook extension, from a folder and through an entry point, posting to a real
HTTP server."""

from __future__ import annotations

import json
import shutil
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from flx_core.application import Application
from flx_core.domain import Principal
from flx_core.domain.events import ExecutionFailed
from flx_plugin import ExtensionConfig, ExtensionManager, ExtensionState

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flx-webhook-plugin"


@dataclass
class Receiver:
    url: str
    received: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    monkeypatch.delenv("FLX_WEBHOOK_URL", raising=False)
    payloads: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            assert self.headers["Content-Type"] == "application/json"
            payloads.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield Receiver(f"http://127.0.0.1:{server.server_port}/hook", payloads)
    server.shutdown()
    server.server_close()
    thread.join()


def fail_an_execution(app: Application) -> Any:
    event = ExecutionFailed(
        aggregate_id="e1", pipeline_name="demo", duration_seconds=1.5, error="tap exited 1"
    )
    return app.publish(event, principal=Principal.system())


def expected(received: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {
            "event": "execution_failed",
            "execution_id": "e1",
            "pipeline": "demo",
            "error": "tap exited 1",
            "duration_seconds": 1.5,
            "occurred_at": received[0]["occurred_at"],
        }
    ]


async def test_from_a_folder_with_the_url_in_the_environment(
    tmp_path: Path, app, receiver: Receiver, monkeypatch
) -> None:
    monkeypatch.setenv("FLX_WEBHOOK_URL", receiver.url)
    watch = tmp_path / "extensions.d"
    shutil.copytree(EXAMPLE, watch / "webhook")
    manager = ExtensionManager(ExtensionConfig(watch_dir=watch, flx_version="0.1.0"), app)
    await manager.start()
    record = manager.records["webhook"]
    assert record.state is ExtensionState.ACTIVE and record.extension.origin == "directory"
    assert "webhook" in manager.registry.cli_commands
    await fail_an_execution(app)
    assert receiver.received == expected(receiver.received)

    manager.stop()
    await fail_an_execution(app)
    assert len(receiver.received) == 1, "a deactivated extension must not post"
    assert manager.registry.cli_commands == {}


async def test_the_url_can_come_from_extensions_toml(
    tmp_path: Path, app, receiver: Receiver
) -> None:
    watch = tmp_path / "extensions.d"
    shutil.copytree(EXAMPLE, watch / "webhook")
    config = ExtensionConfig(
        watch_dir=watch, flx_version="0.1.0", options={"webhook": {"url": receiver.url}}
    )
    manager = ExtensionManager(config, app, entry_points=False)
    await manager.start()
    await fail_an_execution(app)
    assert [r["pipeline"] for r in receiver.received] == ["demo"]
    manager.stop()


async def test_through_an_entry_point(app, install, tmp_path: Path, receiver: Receiver) -> None:
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    entry_points = declared["project"]["entry-points"]["flx.extensions"]
    install("flx-webhook-plugin", "1.0.0", entry_points, copy=EXAMPLE / "flx_webhook")
    config = ExtensionConfig(
        watch_dir=tmp_path / "empty",
        flx_version="0.1.0",
        options={"webhook": {"url": receiver.url, "timeout": 5}},
    )
    manager = ExtensionManager(config, app)
    await manager.start()
    record = manager.records["webhook"]
    assert record.state is ExtensionState.ACTIVE
    assert (
        record.extension.source
        == "entry point flx_webhook:WebhookExtension (flx-webhook-plugin 1.0.0)"
    )
    await fail_an_execution(app)
    assert receiver.received == expected(receiver.received)
    manager.stop()


async def test_flx_webhook_test_posts_a_test_payload(
    tmp_path: Path, receiver: Receiver, monkeypatch
) -> None:
    watch = tmp_path / "extensions.d"
    shutil.copytree(EXAMPLE, watch / "webhook")
    manager = ExtensionManager(
        ExtensionConfig(watch_dir=watch, flx_version="0.1.0"), None, entry_points=False
    )
    await manager.start()
    command = manager.registry.cli_commands["webhook"][1]
    runner = CliRunner()
    result = runner.invoke(command, ["test", "--url", receiver.url])
    assert result.exit_code == 0, result.output
    assert result.output == f"posted a test payload to {receiver.url}: HTTP 204\n"
    assert receiver.received[0]["event"] == "test" and receiver.received[0]["source"] == "flx"

    result = runner.invoke(command, ["test"])
    assert result.exit_code == 1
    assert "no URL: give --url, set FLX_WEBHOOK_URL or extensions.toml" in result.output
    result = runner.invoke(command, ["test", "--url", "http://127.0.0.1:9/nothing"])
    assert result.exit_code == 1
    assert "cannot post to http://127.0.0.1:9/nothing" in result.output
    manager.stop()


def test_the_folder_manifest_and_the_installed_manifest_agree() -> None:
    folder = tomllib.loads((EXAMPLE / "flx-extension.toml").read_text())
    declared = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())
    assert declared["project"]["entry-points"]["flx.extensions"] == {"webhook": folder["entry"]}
    source = (EXAMPLE / "flx_webhook" / "extension.py").read_text()
    for key in ("name", "version", "description", "flx"):
        assert f'    {key} = "{folder[key]}"' in source
    assert declared["project"]["version"] == folder["version"]

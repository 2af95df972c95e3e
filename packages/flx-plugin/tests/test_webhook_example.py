"""The example webhook plugin, loaded from a directory and through an entry point."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from flx_core.application import Application, core_module
from flx_core.domain import Principal
from flx_core.domain.events import ExecutionFailed
from flx_core.testing import InMemoryWorld
from flx_plugin import PluginConfig, PluginManager

EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flx-webhook-plugin"


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict]]]:
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", received
    server.shutdown()
    server.server_close()


async def fail_an_execution(app: Application) -> None:
    await app.publish(
        ExecutionFailed(
            aggregate_id="e1", pipeline_name="demo", duration_seconds=1.5, error="tap exited 1"
        ),
        principal=Principal.system(),
    )


async def test_from_a_directory(tmp_path: Path, receiver, monkeypatch) -> None:
    url, received = receiver
    monkeypatch.setenv("FLX_WEBHOOK_URL", url)
    watch = tmp_path / "plugins.d"
    shutil.copytree(EXAMPLE, watch / "webhook")
    app = Application(InMemoryWorld().uow)
    app.include([core_module])
    manager = PluginManager(
        PluginConfig(watch_dir=watch, flx_version="0.1.0"), app, entry_points=False
    )
    await manager.start()
    assert manager.records["webhook"].state == "active"
    assert "webhook" in manager.registry.cli_commands
    await fail_an_execution(app)
    assert received == [
        {
            "event": "execution_failed",
            "execution_id": "e1",
            "pipeline": "demo",
            "error": "tap exited 1",
            "duration_seconds": 1.5,
            "occurred_at": received[0]["occurred_at"],
        }
    ]
    manager.stop()
    await fail_an_execution(app)
    assert len(received) == 1, "a deactivated plugin must not post"
    assert "webhook" not in manager.registry.cli_commands


async def test_through_an_entry_point(tmp_path: Path, receiver, monkeypatch) -> None:
    """A real distribution on sys.path: the code and a dist-info with entry_points.txt."""
    url, received = receiver
    monkeypatch.setenv("FLX_WEBHOOK_URL", url)
    site = tmp_path / "site"
    shutil.copytree(EXAMPLE / "flx_webhook", site / "flx_webhook")
    info = site / "flx_webhook_plugin-1.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: flx-webhook-plugin\nVersion: 1.0.0\n"
    )
    (info / "entry_points.txt").write_text("[flx.plugins]\nwebhook = flx_webhook:plugin\n")
    monkeypatch.syspath_prepend(str(site))
    app = Application(InMemoryWorld().uow)
    app.include([core_module])
    manager = PluginManager(PluginConfig(watch_dir=tmp_path / "empty", flx_version="0.1.0"), app)
    try:
        await manager.start()
        record = manager.records["webhook"]
        assert record.state == "active" and record.plugin.source == "entry_point"
        await fail_an_execution(app)
        assert [r["pipeline"] for r in received] == ["demo"]
    finally:
        manager.stop()
        for key in [k for k in sys.modules if k.startswith("flx_webhook")]:
            del sys.modules[key]

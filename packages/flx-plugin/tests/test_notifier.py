"""The built-in notifier: Slack-compatible messages to a real local HTTP server, retried
with backoff, on real failed executions and on the first success after them."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from flx_plugin.notifier import NotifierOptions, WebhookSender
from flx_plugin.notifier.options import NotifierOptionsError

SECRET_PATH = "/services/T000/B000/s3cr3tT0ken"


@dataclass
class Hook:
    """A webhook receiver: answers each POST with the next status of ``script`` (then 200)."""

    url: str
    script: list[int] = field(default_factory=list)
    received: list[dict[str, Any]] = field(default_factory=list)
    answered: list[int] = field(default_factory=list)


@pytest.fixture
def hook(monkeypatch: pytest.MonkeyPatch) -> Iterator[Hook]:
    monkeypatch.delenv("FLX_NOTIFIER_URL", raising=False)
    state = Hook(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            assert self.headers["Content-Type"] == "application/json"
            assert self.path == SECRET_PATH
            state.received.append(json.loads(body))
            status = state.script.pop(0) if state.script else 200
            state.answered.append(status)
            self.send_response(status)
            if status == 429:
                self.send_header("Retry-After", "0.05")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_port}{SECRET_PATH}"
    yield state
    server.shutdown()
    server.server_close()
    thread.join()


def sender(url: str, **options: Any) -> tuple[WebhookSender, list[float]]:
    waits: list[float] = []

    async def sleep(seconds: float) -> None:
        waits.append(seconds)

    opts = NotifierOptions.read({"url": url, "timeout": 2, **options})
    return WebhookSender(opts, sleep=sleep), waits


async def test_server_errors_are_retried_with_doubling_backoff(hook: Hook) -> None:
    hook.script = [503, 500]
    s, waits = sender(hook.url, attempts=4, backoff=0.5)
    delivery = await s.send({"text": "hi"}, kind="failure", pipeline="p")
    assert (delivery.ok, delivery.attempts, delivery.status) == (True, 3, 200)
    assert hook.answered == [503, 500, 200]
    assert hook.received == [{"text": "hi"}] * 3
    assert waits == [0.5, 1.0]


async def test_retry_after_of_a_429_is_obeyed(hook: Hook) -> None:
    hook.script = [429]
    s, waits = sender(hook.url, backoff=7)
    assert (await s.send({"text": "x"}, kind="failure", pipeline="p")).ok
    assert waits == [0.05]


async def test_a_client_error_is_final_and_attempts_are_bounded(
    hook: Hook, capsys: pytest.CaptureFixture[str]
) -> None:
    hook.script = [404]
    s, waits = sender(hook.url)
    refused = await s.send({"text": "x"}, kind="failure", pipeline="p")
    assert (refused.ok, refused.attempts, refused.error) == (False, 1, "HTTP 404")
    assert waits == []
    hook.script = [502] * 5
    s, waits = sender(hook.url, attempts=3, backoff=0.1)
    failed = await s.send({"text": "x"}, kind="failure", pipeline="p")
    assert (failed.ok, failed.attempts, failed.status) == (False, 3, 502)
    assert waits == [0.1, 0.2]
    # Nobody listening: connection refused, tried again, never raised.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}{SECRET_PATH}"
    s, waits = sender(closed, attempts=2, backoff=0.01)
    gone = await s.send({"text": "x"}, kind="failure", pipeline="p")
    assert (gone.ok, gone.attempts, gone.status) == (False, 2, None)
    assert "refused" in (gone.error or "").lower()
    out = capsys.readouterr()
    assert "s3cr3tT0ken" not in out.out + out.err  # the URL is a secret: only its host


def test_options_are_checked_with_clear_errors() -> None:
    with pytest.raises(NotifierOptionsError, match="url must be an http"):
        NotifierOptions.read({"url": "ftp://example.com/x"})
    with pytest.raises(NotifierOptionsError, match="on lists \\['sometimes'\\]"):
        NotifierOptions.read({"url": "https://h/x", "on": ["failure", "sometimes"]})
    with pytest.raises(NotifierOptionsError, match="attempts must be a number from 1 to 10"):
        NotifierOptions.read({"url": "https://h/x", "attempts": 0})
    o = NotifierOptions.read({"url": "https://h/x", "pipelines": ["a"], "on": "failure"})
    assert o.wants("failure", "a") and not o.wants("failure", "b")
    assert not o.wants("recovery", "a")
    assert not NotifierOptions.read({}).wants("failure", "a")  # no URL: nothing to send


# -- through the extension system, on real runs ------------------------------------------


@pytest.fixture
async def runtime(flx_home: Path, hook: Hook) -> AsyncIterator[Any]:
    from flx_core.bootstrap import bootstrap
    from flx_core.config import load_settings

    flx_home.mkdir(parents=True, exist_ok=True)
    (flx_home / "extensions.toml").write_text(
        "[extensions.notifier]\n"
        f'url = "{hook.url}"\n'
        'dashboard_url = "https://flx.example.com/"\n'
        'channel = "#data"\n'
        "backoff = 0.01\n"
        "attempts = 3\n"
    )
    rt = await bootstrap(load_settings())
    try:
        yield rt
    finally:
        await rt.aclose()


async def _run(rt: Any, pipeline: str) -> Any:
    from flx_core.domain import Principal
    from flx_meltano import RunPipeline

    requested = await rt.app.execute(RunPipeline(pipeline=pipeline), principal=Principal.system())
    assert requested.ok, requested.message
    return await rt.executor.wait(requested.value.id)


async def test_failures_and_the_recovery_of_a_real_pipeline_are_notified(
    runtime: Any, hook: Hook, flx_home: Path
) -> None:
    from flx_core.application import CreatePipeline, UpdatePipeline
    from flx_core.domain import Principal
    from flx_meltano import RegisterBuiltinPlugins

    me = Principal.system()
    app = runtime.app
    assert (await app.execute(RegisterBuiltinPlugins(), principal=me)).ok
    # The target's "database" is a directory: every run fails.
    config = {"tap-flx-sample": {"rows": 5}, "target-flx-sqlite": {"database": str(flx_home)}}
    created = await app.execute(
        CreatePipeline(
            name="flaky", extractor="tap-flx-sample", loader="target-flx-sqlite", config=config
        ),
        principal=me,
    )
    assert created.ok, created.message

    hook.script = [500]  # the first message gets through on its second attempt
    first = await _run(runtime, "flaky")
    assert first.status.value == "failed"
    assert hook.answered == [500, 200]
    message = hook.received[-1]
    assert message["text"] == ":red_circle: FLX pipeline *flaky* failed"
    assert message["channel"] == "#data"
    [attachment] = message["attachments"]
    assert attachment["color"] == "#d00000"
    assert attachment["title_link"] == f"https://flx.example.com/executions/{first.id}"
    assert {"title": "Pipeline", "value": "flaky", "short": True} in attachment["fields"]
    assert attachment["text"].startswith("```") and first.error[:20] in attachment["text"]

    second = await _run(runtime, "flaky")
    assert second.status.value == "failed"
    assert len(hook.received) == 3

    fixed = {**config, "target-flx-sqlite": {"database": str(flx_home / "out.db")}}
    updated = await app.execute(
        UpdatePipeline(pipeline="flaky", changes={"config": fixed}), principal=me
    )
    assert updated.ok, updated.message
    third = await _run(runtime, "flaky")
    assert third.status.value == "succeeded"
    assert len(hook.received) == 4
    recovery = hook.received[-1]
    assert recovery["text"] == ":large_green_circle: FLX pipeline *flaky* recovered"
    [attachment] = recovery["attachments"]
    assert attachment["color"] == "#2eb886"
    assert attachment["title"] == f"Execution {third.id[:12]} succeeded after 2 failed executions"
    assert {"title": "Records", "value": f"{third.records:,}", "short": True} in attachment[
        "fields"
    ]

    # A success after a success says nothing.
    assert (await _run(runtime, "flaky")).status.value == "succeeded"
    assert len(hook.received) == 4

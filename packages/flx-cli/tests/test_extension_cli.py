"""`flx extension list|info|reload|watch|doctor`, `flx plugin list` beside it, and commands
that extensions add, through real processes, real file changes and a real HTTP server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

FLX = str(Path(sys.executable).parent / "flx")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flx-webhook-plugin"


def env_for(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "PLUGIN_WATCH_DIRECTORY")
    }
    env["FLX_HOME"] = str(home)
    env["FLX_DAEMON"] = "off"  # each run in its own process (the daemon has its own tests)
    return env


def flx(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLX, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def info(env: dict[str, str], name: str = "webhook") -> dict[str, Any] | None:
    result = flx(env, "--json", "extension", "info", name)
    return json.loads(result.stdout) if result.returncode == 0 else None


def status_row(watch_dir: Path, name: str = "webhook") -> dict[str, Any] | None:
    try:
        status = json.loads((watch_dir / ".status.json").read_text())
    except (OSError, ValueError):
        return None
    return next((r for r in status["extensions"] if r["name"] == name), None)


def wait_for(predicate: Callable[[], Any], what: str, deadline: float = 30) -> Any:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = predicate()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"never saw {what}")


class Watcher:
    """`flx extension watch` in its own process, its output collected line by line."""

    def __init__(self, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [FLX, "extension", "watch", "--debounce", "300"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in self.lines)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            code = self.proc.wait(timeout=30)
        finally:
            self.proc.kill()
            self._reader.join(timeout=10)
            assert self.proc.stdout is not None
            self.proc.stdout.close()
        return code


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
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
    thread.join()


def test_watch_loads_reloads_keeps_old_on_break_and_unloads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    watch_dir = home / "extensions.d"
    watcher = Watcher(env)
    try:
        wait_for(lambda: watcher.said("watching"), "the watcher start")
        folder = watch_dir / "webhook"
        shutil.copytree(EXAMPLE, folder)
        wait_for(lambda: (status_row(watch_dir) or {}).get("state") == "active", "active")
        active = info(env)
        assert active is not None and active["live"] is True
        assert active["state"] == "active" and active["version"] == "1.0.0"
        assert active["source"] == str(folder) and active["origin"] == "directory"
        assert active["activated_at"]

        manifest = folder / "flx-extension.toml"
        manifest.write_text(manifest.read_text().replace('"1.0.0"', '"1.1.0"'))
        wait_for(lambda: (status_row(watch_dir) or {}).get("version") == "1.1.0", "the reload")
        assert info(env)["version"] == "1.1.0"

        with (folder / "flx_webhook" / "extension.py").open("a") as fh:
            fh.write("\ndef broken(:\n")
        manifest.write_text(manifest.read_text().replace('"1.1.0"', '"1.2.0"'))
        wait_for(
            lambda: "stays active" in ((status_row(watch_dir) or {}).get("reason") or ""),
            "a failed reload",
        )
        kept = info(env)
        assert kept["state"] == "active" and kept["version"] == "1.1.0"
        assert "SyntaxError" in kept["reason"]

        asked = flx(env, "extension", "reload", "webhook")
        assert asked.returncode == 1 and "webhook did not reload" in asked.stderr
        assert "SyntaxError" in asked.stderr

        shutil.rmtree(folder)
        wait_for(lambda: status_row(watch_dir) is None and watcher.said("unloaded"), "unload")
        gone = flx(env, "extension", "info", "webhook")
        assert gone.returncode == 1 and "no extension named 'webhook'" in gone.stderr
    finally:
        code = watcher.stop()
    assert code == 0
    assert not (watch_dir / ".status.json").exists()
    said = "\n".join(watcher.lines)
    assert f"active webhook 1.0.0 ({folder})" in said
    assert f"reloaded webhook 1.1.0 ({folder})" in said
    assert "reload failed webhook: cannot import flx_webhook:WebhookExtension: SyntaxError" in said
    assert "(previous version 1.1.0 stays active)" in said
    assert "unloaded webhook" in said


def test_reload_asks_the_running_watcher(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    shutil.copytree(EXAMPLE, home / "extensions.d" / "webhook")
    watcher = Watcher(env)
    try:
        wait_for(lambda: watcher.said("watching"), "the watcher start")
        first = info(env)["activated_at"]
        asked = flx(env, "extension", "reload", "webhook")
        assert asked.returncode == 0, asked.stderr
        assert asked.stdout.startswith("reloaded webhook 1.0.0 in the watcher (pid ")
        assert info(env)["activated_at"] > first
    finally:
        assert watcher.stop() == 0


def test_doctor_names_cycle_and_conflict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    folders = home / "extensions.d"
    specs = {
        "a": ("1.0.0", ["b"]),
        "b": ("1.0.0", ["a"]),
        "alerts": ("1.3.0", []),
        "needs-new": ("1.0.0", ["alerts>=2"]),
        "ok": ("1.0.0", []),
    }
    for name, (version, requires) in specs.items():
        (folders / name / "code").mkdir(parents=True)
        (folders / name / "code" / "__init__.py").write_text(
            "class P:\n    def activate(self, context):\n        pass\nplugin = P()\n"
        )
        reqs = ", ".join(f'"{r}"' for r in requires)
        (folders / name / "flx-extension.toml").write_text(
            f'name = "{name}"\nversion = "{version}"\nentry = "code:plugin"\nrequires = [{reqs}]\n'
        )
    result = flx(env, "extension", "doctor")
    assert result.returncode == 1
    assert "cycle: a -> b -> a" in result.stdout or "cycle: b -> a -> b" in result.stdout
    assert (
        "conflict: version conflict on alerts: needs-new requires alerts>=2; "
        "available: alerts 1.3.0" in result.stdout
    )
    assert "load order: alerts 1.3.0, ok 1.0.0" in result.stdout

    report = json.loads(flx(env, "--json", "extension", "doctor").stdout)
    assert set(report["failed"]) == {"a", "b", "needs-new"} and not report["ok"]
    assert info(env, "needs-new")["state"] == "failed"
    assert info(env, "ok")["state"] == "resolved" and info(env, "ok")["live"] is False

    shutil.rmtree(folders / "a")
    shutil.rmtree(folders / "needs-new")
    fine = flx(env, "extension", "doctor")
    assert fine.returncode == 1 and "requires a, which is missing" in fine.stdout
    shutil.rmtree(folders / "b")
    assert flx(env, "extension", "doctor").returncode == 0


def test_extensions_toml_pins_and_disables_and_reload_checks_loading(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    for version in ("1.0.0", "1.1.0"):
        folder = home / "extensions.d" / f"webhook-{version}"
        shutil.copytree(EXAMPLE, folder)
        manifest = folder / "flx-extension.toml"
        manifest.write_text(manifest.read_text().replace('"1.0.0"', f'"{version}"'))
    chosen = info(env)
    assert chosen["version"] == "1.1.0" and chosen["versions"] == ["1.0.0", "1.1.0"]
    (home / "extensions.toml").write_text('[extensions.webhook]\nversion = "==1.0.0"\n')
    assert info(env)["version"] == "1.0.0"

    checked = flx(env, "extension", "reload", "webhook")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.startswith("webhook 1.0.0 loads (no `flx extension watch` runs")

    (home / "extensions.toml").write_text("[extensions.webhook]\nenabled = false\n")
    off = info(env)
    assert off["state"] == "inactive" and off["reason"] == "disabled in extensions.toml"
    refused = flx(env, "extension", "reload", "webhook")
    assert refused.returncode == 1 and "disabled in extensions.toml" in refused.stderr

    (home / "extensions.toml").write_text('[extensions.webhook]\nversion = "not a spec"\n')
    bad = flx(env, "extension", "doctor")
    assert bad.returncode == 2 and "extensions.webhook.version 'not a spec'" in bad.stderr


def test_an_extension_command_posts_to_a_real_server(tmp_path: Path, receiver) -> None:
    url, received = receiver
    home = tmp_path / "home"
    env = env_for(home)
    shutil.copytree(EXAMPLE, home / "extensions.d" / "webhook")
    result = flx(env, "webhook", "test", "--url", url)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"posted a test payload to {url}: HTTP 204\n"
    assert received[0]["event"] == "test"
    failing = flx(env, "webhook", "test", "--url", "http://127.0.0.1:9/none")
    assert failing.returncode == 1 and "cannot post to http://127.0.0.1:9/none" in failing.stderr


def test_a_failed_run_posts_the_webhook(tmp_path: Path, receiver) -> None:
    url, received = receiver
    home = tmp_path / "home"
    env = {**env_for(home), "FLX_WEBHOOK_URL": url}
    shutil.copytree(EXAMPLE, home / "extensions.d" / "webhook")
    for name in ("tap-broken", "target-any"):
        script = tmp_path / name
        script.write_text("#!/bin/sh\necho 'it broke' >&2\nexit 3\n")
        script.chmod(0o755)
    for kind, name in (("extractor", "tap-broken"), ("loader", "target-any")):
        added = flx(env, "plugin", "add", kind, name, "--executable", str(tmp_path / name))
        assert added.returncode == 0, added.stderr
    created = flx(env, "pipeline", "create", "orders", "-e", "tap-broken", "-l", "target-any")
    assert created.returncode == 0, created.stderr
    run = flx(env, "run", "orders")
    assert run.returncode == 1
    (payload,) = received
    assert payload["event"] == "execution_failed" and payload["pipeline"] == "orders"
    assert payload["execution_id"] and payload["error"]


def test_extension_list_and_plugin_list_each_show_their_own(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    shutil.copytree(EXAMPLE, home / "extensions.d" / "webhook")
    tap = tmp_path / "tap-any"
    tap.write_text("#!/bin/sh\nexit 0\n")
    tap.chmod(0o755)
    added = flx(env, "plugin", "add", "extractor", "tap-any", "--executable", str(tap))
    assert added.returncode == 0, added.stderr

    after = flx(env, "extension", "list", "--json")
    before = flx(env, "--json", "extension", "list")
    assert after.returncode == 0 and before.returncode == 0, after.stderr + before.stderr
    extensions = json.loads(after.stdout)
    assert extensions == json.loads(before.stdout)
    assert [(e["name"], e["kind"], e["state"]) for e in extensions] == [
        ("webhook", "extension", "resolved")
    ]
    assert extensions[0]["source"] == str(home / "extensions.d" / "webhook")
    table = flx(env, "extension", "list")
    assert table.returncode == 0 and "webhook" in table.stdout and "tap-any" not in table.stdout

    for args in (("plugin", "list", "--json"), ("--json", "plugin", "list")):
        listed = flx(env, *args)
        assert listed.returncode == 0, listed.stderr
        connectors = json.loads(listed.stdout)
        assert isinstance(connectors, list)
        kinds = {c["name"]: c["kind"] for c in connectors}
        assert kinds["tap-any"] == "extractor" and "webhook" not in kinds
        assert {c["kind"] for c in connectors} <= {"extractor", "loader", "mapper", "utility"}
    people = flx(env, "plugin", "list")
    assert people.returncode == 0 and "tap-any" in people.stdout
    assert "webhook" not in people.stdout and "Extensions" not in people.stdout


def test_every_extension_command_takes_json_after_it(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    shutil.copytree(EXAMPLE, home / "extensions.d" / "webhook")
    shown = flx(env, "extension", "info", "webhook", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["version"] == "1.0.0"
    report = flx(env, "extension", "doctor", "--json")
    assert report.returncode == 0, report.stderr
    assert json.loads(report.stdout)["order"][0]["name"] == "webhook"
    checked = flx(env, "extension", "reload", "webhook", "--json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout) == {
        "name": "webhook",
        "version": "1.0.0",
        "reloaded": False,
        "pid": None,
    }
    empty = env_for(tmp_path / "empty-home")
    assert json.loads(flx(empty, "extension", "list", "--json").stdout) == []
    nothing = flx(empty, "extension", "list")
    assert nothing.returncode == 0 and nothing.stdout.startswith("no extensions (folders in ")


def test_the_extension_commands_left_flx_plugin(tmp_path: Path) -> None:
    env = env_for(tmp_path / "home")
    for command in ("info", "reload", "watch", "doctor"):
        moved = flx(env, "plugin", command, "--help")
        assert moved.returncode == 2 and f"No such command '{command}'" in moved.stderr
    listed = flx(env, "--help")
    assert "extension" in listed.stdout


def test_flx_plugin_names_written_earlier_still_load(tmp_path: Path) -> None:
    """A watched directory under its earlier name, a folder with ``flx-plugin.toml`` and a
    ``plugins.toml``, as operators wrote them before."""
    home = tmp_path / "home"
    env = env_for(home)
    folder = home / "plugins.d" / "webhook"
    shutil.copytree(EXAMPLE, folder)
    (folder / "flx-extension.toml").rename(folder / "flx-plugin.toml")
    (home / "plugins.toml").write_text("[plugins.webhook]\ntimeout = 3\n")
    shown = info(env)
    assert shown is not None and shown["state"] == "resolved"
    assert shown["source"] == str(folder)
    (home / "plugins.toml").write_text("[plugins.webhook]\nenabled = false\n")
    assert info(env)["reason"] == "disabled in plugins.toml"

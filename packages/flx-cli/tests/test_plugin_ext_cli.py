"""`flx plugin watch|info|doctor|list` through real processes and real file changes."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

FLX = str(Path(sys.executable).parent / "flx")
EXAMPLE = Path(__file__).resolve().parents[3] / "examples" / "flx-webhook-plugin"


def env_for(home: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "PLUGIN_WATCH_DIRECTORY")
    }
    env["FLX_HOME"] = str(home)
    return env


def info(env: dict[str, str]) -> dict | None:
    result = subprocess.run(
        [FLX, "--json", "plugin", "info", "webhook"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return json.loads(result.stdout) if result.returncode == 0 else None


def wait_for(predicate, env: dict[str, str], what: str, deadline: float = 30) -> dict | None:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        found = info(env)
        if predicate(found):
            return found
        time.sleep(0.3)
    raise AssertionError(f"never saw {what}; last: {info(env)}")


def test_watch_loads_reloads_keeps_old_on_break_and_unloads(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    watch_dir = home / "plugins.d"
    proc = subprocess.Popen(
        [FLX, "plugin", "watch"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        wait_status = time.monotonic() + 30
        while not (watch_dir / ".status.json").exists() and time.monotonic() < wait_status:
            time.sleep(0.2)
        folder = watch_dir / "webhook"
        shutil.copytree(EXAMPLE, folder)
        active = wait_for(lambda r: r and r.get("live") and r["state"] == "active", env, "active")
        assert active["version"] == "1.0.0" and active["source"] == "directory"
        manifest = folder / "flx-plugin.toml"
        manifest.write_text(manifest.read_text().replace('"1.0.0"', '"1.1.0"'))
        wait_for(lambda r: r and r["version"] == "1.1.0", env, "reload to 1.1.0")
        with (folder / "flx_webhook" / "plugin.py").open("a") as fh:
            fh.write("\ndef broken(:\n")
        manifest.write_text(manifest.read_text().replace('"1.1.0"', '"1.2.0"'))
        kept = wait_for(
            lambda r: r and "stays active" in (r.get("reason") or ""), env, "a failed reload"
        )
        assert kept["state"] == "active" and kept["version"] == "1.1.0"
        assert "SyntaxError" in kept["reason"]
        shutil.rmtree(folder)
        wait_for(lambda r: r is None, env, "unload")
    finally:
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=30)
    assert "active webhook 1.0.0" in out
    assert "reloaded webhook 1.1.0" in out
    assert "previous version stays active" in out
    assert "unloaded webhook" in out


def test_doctor_names_cycle_and_conflict(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    plugins = home / "plugins.d"
    specs = {
        "a": ("1.0.0", ["b"]),
        "b": ("1.0.0", ["a"]),
        "alerts": ("1.3.0", []),
        "needs-new": ("1.0.0", ["alerts>=2"]),
        "ok": ("1.0.0", []),
    }
    for name, (version, requires) in specs.items():
        (plugins / name / "code").mkdir(parents=True)
        (plugins / name / "code" / "__init__.py").write_text(
            "class P:\n    def activate(self, context):\n        pass\nplugin = P()\n"
        )
        reqs = ", ".join(f'"{r}"' for r in requires)
        (plugins / name / "flx-plugin.toml").write_text(
            f'name = "{name}"\nversion = "{version}"\nentry = "code:plugin"\nrequires = [{reqs}]\n'
        )
    result = subprocess.run(
        [FLX, "plugin", "doctor"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 1
    assert "cycle: a -> b -> a" in result.stdout or "cycle: b -> a -> b" in result.stdout
    assert "needs-new requires alerts>=2" in result.stdout
    assert "available: alerts 1.3.0" in result.stdout
    assert "load order:" in result.stdout and "ok 1.0.0" in result.stdout
    listed = subprocess.run(
        [FLX, "--json", "plugin", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    states = {e["name"]: e["state"] for e in json.loads(listed.stdout)["extensions"]}
    assert states == {
        "a": "failed",
        "b": "failed",
        "alerts": "resolved",
        "needs-new": "failed",
        "ok": "resolved",
    }


def test_plugin_cli_command_is_reachable(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    shutil.copytree(EXAMPLE, home / "plugins.d" / "webhook")
    result = subprocess.run(
        [FLX, "webhook", "test", "--url", "http://127.0.0.1:9/none"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "cannot post to http://127.0.0.1:9/none" in result.stderr


def test_plugins_toml_pins_and_disables_and_reload_checks_loading(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = env_for(home)
    for version in ("1.0.0", "1.1.0"):
        folder = home / "plugins.d" / f"webhook-{version}"
        shutil.copytree(EXAMPLE, folder)
        manifest = folder / "flx-plugin.toml"
        manifest.write_text(manifest.read_text().replace('"1.0.0"', f'"{version}"'))
    chosen = info(env)
    assert chosen is not None and chosen["version"] == "1.1.0"
    (home / "plugins.toml").write_text('[plugins.webhook]\nversion = "==1.0.0"\n')
    pinned = info(env)
    assert pinned is not None and pinned["version"] == "1.0.0"
    reload = subprocess.run(
        [FLX, "plugin", "reload", "webhook"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert reload.returncode == 0, reload.stderr
    assert "webhook loads" in reload.stdout
    (home / "plugins.toml").write_text("[plugins.webhook]\nenabled = false\n")
    listed = subprocess.run(
        [FLX, "--json", "plugin", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    rows = json.loads(listed.stdout)["extensions"]
    assert {r["state"] for r in rows} == {"inactive"}
    assert all(r["reason"] == "disabled in plugins.toml" for r in rows)
    (home / "plugins.toml").write_text('[plugins.webhook]\nversion = "not a spec"\n')
    bad = subprocess.run(
        [FLX, "plugin", "doctor"], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 2 and "is not a version specifier" in bad.stderr

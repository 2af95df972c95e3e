"""`flx pipeline`, `flx config` and `flx db` through Click's runner and a real subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from flx_cli.app import cli

FLX = str(Path(sys.executable).parent / "flx")


def flx(
    *args: str, env: dict[str, str] | None = None, input: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [FLX, *args], capture_output=True, text=True, env=env, input=input, timeout=120, check=False
    )


@pytest.fixture
def runner(flx_home: Path) -> CliRunner:
    return CliRunner()


def invoke(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_create_list_show_update_delete(runner: CliRunner) -> None:
    code, out, err = invoke(
        runner,
        "pipeline",
        "create",
        "demo",
        "--extractor",
        "tap-a",
        "--loader",
        "target-b",
        "--mapper",
        "m1",
        "--config",
        "extractor.rows=10",
        "--config",
        "target-b.path=out",
        "--select",
        "users.*",
        "--schedule",
        "0 * * * *",
        "--tag",
        "x",
    )
    assert code == 0, err
    assert "created pipeline demo: tap-a -> m1 -> target-b" in out
    code, out, _ = invoke(runner, "--json", "pipeline", "show", "demo")
    data = json.loads(out)
    # tap-a declares no settings: its values stay the text that was typed.
    assert data["config"] == {"tap-a": {"rows": "10"}, "target-b": {"path": "out"}}
    assert data["select"] == ["users.*"] and data["schedule"] == "0 * * * *"
    code, out, err = invoke(
        runner, "pipeline", "update", "demo", "-d", "nightly", "--if-version", "1"
    )
    assert code == 0, err
    assert "version 2" in out
    code, out, _ = invoke(runner, "pipeline", "disable", "demo")
    assert code == 0
    code, out, _ = invoke(runner, "--json", "pipeline", "list", "--disabled")
    assert [p["name"] for p in json.loads(out)["items"]] == ["demo"]
    code, out, _ = invoke(runner, "pipeline", "delete", "demo", "--yes")
    assert code == 0
    code, out, _ = invoke(runner, "--json", "pipeline", "list")
    assert json.loads(out)["items"] == []


def test_pipeline_from_yaml_file(runner: CliRunner, tmp_path: Path) -> None:
    spec = tmp_path / "p.yml"
    spec.write_text("name: fromfile\nextractor: tap-a\nloader: target-b\nselect: ['a.*']\n")
    code, _, err = invoke(runner, "pipeline", "create", "-f", str(spec))
    assert code == 0, err
    code, out, _ = invoke(runner, "--json", "pipeline", "show", "fromfile")
    assert json.loads(out)["select"] == ["a.*"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("pipeline", "create", "Bad Name", "-e", "a", "-l", "b"), "invalid pipeline name"),
        (("pipeline", "show", "ghost"), "pipeline 'ghost' not found"),
        (("pipeline", "update", "ghost", "-d", "x"), "pipeline 'ghost' not found"),
        (
            ("pipeline", "create", "x", "-e", "a", "-l", "b", "--schedule", "often"),
            "invalid cron expression",
        ),
        (
            ("pipeline", "create", "x", "-e", "a", "-l", "b", "--config", "rows=1"),
            "must be PLUGIN.SETTING",
        ),
    ],
)
def test_errors_are_one_line_and_change_nothing(
    runner: CliRunner, args: tuple[str, ...], message: str
) -> None:
    code, _out, err = invoke(runner, *args)
    assert code != 0
    assert message in err
    assert "Traceback" not in err
    _, listing, _ = invoke(runner, "--json", "pipeline", "list")
    assert json.loads(listing)["items"] == []


def test_duplicate_and_stale_update_change_nothing(runner: CliRunner) -> None:
    assert invoke(runner, "pipeline", "create", "demo", "-e", "a", "-l", "b")[0] == 0
    code, _, err = invoke(runner, "pipeline", "create", "demo", "-e", "c", "-l", "d")
    assert code == 1 and err.strip() == "error: pipeline 'demo' already exists"
    assert invoke(runner, "pipeline", "update", "demo", "-d", "one")[0] == 0
    code, _, err = invoke(runner, "pipeline", "update", "demo", "-d", "two", "--if-version", "1")
    assert code == 1 and "changed since version 1" in err
    _, out, _ = invoke(runner, "--json", "pipeline", "show", "demo")
    shown = json.loads(out)
    assert (shown["extractor"], shown["description"], shown["version"]) == ("a", "one", 2)


def test_bad_setting_exits_2_with_one_line(runner: CliRunner, monkeypatch) -> None:
    monkeypatch.setenv("FLX_HEARTBEAT_SECONDS", "often")
    code, _, err = invoke(runner, "pipeline", "list")
    assert code == 2
    assert err.strip().startswith("error: invalid setting FLX_HEARTBEAT_SECONDS")
    assert len(err.strip().splitlines()) == 1


def test_config_show_masks_secrets(runner: CliRunner, monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:topsecret@db:5432/flx")
    monkeypatch.setenv("FLX_ADMIN_PASSWORD", "another-secret")
    code, out, _ = invoke(runner, "--json", "config", "show")
    assert code == 0
    assert "topsecret" not in out and "another-secret" not in out
    assert json.loads(out)["database_url"] == "postgresql://u:********@db:5432/flx"


def test_help_imports_no_heavy_framework() -> None:
    probe = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from flx_cli.app import cli\n"
        "r = CliRunner().invoke(cli, ['--help'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = [m for m in ('sqlalchemy', 'fastapi', 'django', 'grpc', 'alembic')"
        " if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == ""


def _env(home: Path, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["FLX_HOME"] = str(home)
    env["FLX_DAEMON"] = "off"  # each run in its own process (the daemon has its own tests)
    env.update(extra)
    return env


def test_real_subprocess_on_embedded_default(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    created = flx(
        "pipeline", "create", "demo", "--extractor", "tap-a", "--loader", "target-b", env=env
    )
    assert created.returncode == 0, created.stderr
    assert (tmp_path / "home" / "flx.db").exists()
    listed = flx("--json", "pipeline", "list", env=env)
    assert [p["name"] for p in json.loads(listed.stdout)["items"]] == ["demo"]
    current = flx("--json", "db", "current", env=env)
    assert all(row["up_to_date"] for row in json.loads(current.stdout))


@pytest.mark.postgres
def test_real_subprocess_on_postgresql(tmp_path: Path, postgres_url: str) -> None:
    env = _env(tmp_path / "home", DATABASE_URL=postgres_url)
    created = flx(
        "pipeline", "create", "demo", "--extractor", "tap-a", "--loader", "target-b", env=env
    )
    assert created.returncode == 0, created.stderr
    listed = flx("--json", "pipeline", "list", env=env)
    assert [p["name"] for p in json.loads(listed.stdout)["items"]] == ["demo"]
    assert not (tmp_path / "home" / "flx.db").exists()
    dup = flx("pipeline", "create", "demo", "--extractor", "x", "--loader", "y", env=env)
    assert dup.returncode == 1 and "already exists" in dup.stderr


def test_db_upgrade_and_downgrade_round_trip(tmp_path: Path) -> None:
    env = _env(tmp_path / "home")
    assert flx("db", "upgrade", env=env).returncode == 0
    down = flx("--json", "db", "downgrade", "base", "--package", "core", env=env)
    assert down.returncode == 0, down.stderr
    assert json.loads(down.stdout)["core"] is None
    up = flx("--json", "db", "upgrade", env=env)
    assert json.loads(up.stdout)["core"] == "0005_core"


def test_pipeline_show_masks_secret_settings(runner: CliRunner) -> None:
    code, _, err = invoke(
        runner,
        "pipeline",
        "create",
        "sec",
        "-e",
        "a",
        "-l",
        "b",
        "--config",
        "extractor.password=hunter2",
        "--config",
        "loader.url=postgresql://u:pw9@h/d",
    )
    assert code == 0, err
    _, out, _ = invoke(runner, "--json", "pipeline", "show", "sec")
    assert "hunter2" not in out and "pw9" not in out
    _, out, _ = invoke(runner, "--json", "pipeline", "list")
    assert "hunter2" not in out


def test_a_setting_the_plugin_declares_secret_is_masked_in_pipeline_output(
    runner: CliRunner,
) -> None:
    for args in (
        ("plugin", "add", "extractor", "tap-m", "--executable", "/bin/true"),
        ("plugin", "set", "tap-m", "dbkey", "placeholder", "--secret"),
        ("plugin", "add", "loader", "target-m", "--executable", "/bin/true"),
    ):
        code, _, err = invoke(runner, *args)
        assert code == 0, err
    code, out, err = invoke(
        runner,
        "pipeline",
        "create",
        "m",
        "-e",
        "tap-m",
        "-l",
        "target-m",
        "--config",
        "tap-m.dbkey=s3cr3t-value",
        "--json",
    )
    assert code == 0, err
    assert "s3cr3t-value" not in out
    for args in (("pipeline", "show", "m", "--json"), ("pipeline", "list", "--json")):
        code, out, err = invoke(runner, *args)
        assert code == 0, err
        assert "s3cr3t-value" not in out
        assert "********" in out

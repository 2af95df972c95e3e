"""The reader against Meltano itself: for one project and both its environments, the config
and the select/metadata extras `meltano config print` resolves equal what FLX imports.

Meltano is installed once into a virtual environment under the user's cache and kept there
between runs. Without the network (and not in CI) the test is skipped with the reason.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from flx_meltano import read_project

from .conftest import PROJECTS

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flx-tests" / "meltano"
REPO = Path(__file__).resolve().parents[4]


def _unavailable(why: str) -> None:
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"Meltano could not be installed ({why}): CI requires it", pytrace=False)
    pytest.skip(f"Meltano could not be installed ({why})")


@pytest.fixture(scope="module")
def meltano() -> Path:
    venv = CACHE / "venv"
    exe = venv / "bin" / "meltano"
    if exe.exists():
        return exe
    uv = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(uv).exists():
        _unavailable("uv not found")
    try:
        subprocess.run([uv, "venv", "-q", str(venv)], check=True, capture_output=True, timeout=120)
        subprocess.run(
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "meltano"],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        lines = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
        _unavailable(lines.splitlines()[-1] if lines else str(exc))
    return exe


def meltano_json(exe: Path, root: Path, *args: str) -> Any:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    result = subprocess.run(
        [str(exe), "--log-level=error", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


@pytest.mark.parametrize("environment", ["dev", "prod"])
def test_config_and_selection_resolve_as_meltano_resolves_them(
    meltano: Path, tmp_path: Path, environment: str
) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECTS / "environments", root)
    ours = read_project(root, environment=environment, resolve_env=True)
    for name in ("tap-postgres", "tap-postgres-reporting"):
        env = f"--environment={environment}"
        config = meltano_json(meltano, root, env, "config", "--unsafe", "print", name)
        extras = meltano_json(meltano, root, env, "config", "print", name, "--extras")
        spec = next(p for p in ours.plugins if p.name == name)
        assert spec.config == config, name
        assert spec.select == extras["_select"], name
        assert spec.metadata == extras["_metadata"], name


def test_jobs_and_schedules_are_the_ones_meltano_lists(meltano: Path, tmp_path: Path) -> None:
    root = tmp_path / "project"
    shutil.copytree(PROJECTS / "jobs", root)
    ours = read_project(root)
    jobs = meltano_json(meltano, root, "job", "list", "--format=json")["jobs"]
    schedules = meltano_json(meltano, root, "schedule", "list", "--format=json")["schedules"]
    pipelines = {p.name: p for p in ours.pipelines}
    for job in jobs:
        (task,) = job["tasks"]
        blocks = task.split()
        pipeline = pipelines[job["job_name"]]
        assert (pipeline.extractor, pipeline.loader) == (blocks[0], blocks[-1])
        assert len(pipeline.mappers) == len(blocks) - 2
    left_out = {u.name for u in ours.unsupported if u.kind == "schedule"}
    for schedule in schedules["job"]:
        if schedule["cron_interval"] is None:
            assert schedule["name"] in left_out
        else:
            assert pipelines[schedule["job"]["name"]].schedule == schedule["interval"]

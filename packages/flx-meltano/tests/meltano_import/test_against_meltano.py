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
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from flx_core.bootstrap import Runtime
from flx_core.domain import ExecutionStatus, Principal
from flx_meltano import ApplyMeltanoImport, RunPipeline, read_project, read_states
from flx_meltano.catalog import apply_schema, read_catalog_file, run_catalog
from flx_meltano.connectors.tap_sample import discover

from .conftest import PROJECTS, with_flx_connectors

CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "flx-tests" / "meltano"
REPO = Path(__file__).resolve().parents[4]
#: The Meltano these tests compare with (and that writes the system database below).
MELTANO = "meltano==4.4.1"
#: Real connectors' virtual environments, shared with the other PyPI tests.
PLUGINS = Path(os.environ.get("FLX_TEST_PLUGIN_CACHE", Path.home() / ".cache" / "flx-test-plugins"))
FLX = Path(sys.executable).parent / "flx"

# One worker installs Meltano into the shared cache, never two at once.
pytestmark = pytest.mark.xdist_group("meltano")


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
            [uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"), MELTANO],
            check=True,
            capture_output=True,
            timeout=900,
        )
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        shutil.rmtree(venv, ignore_errors=True)
        lines = (getattr(exc, "stderr", b"") or b"").decode(errors="replace").strip()
        _unavailable(lines.splitlines()[-1] if lines else str(exc))
    return exe


def meltano_output(exe: Path, root: Path, *args: str) -> str:
    """What `meltano ARGS` prints in project ``root`` (uv on its PATH for installs)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MELTANO_", "TAP_", "TARGET_"))}
    env["MELTANO_SEND_ANONYMOUS_USAGE_STATS"] = "false"
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    result = subprocess.run(
        [str(exe), "--log-level=error", *args],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, f"meltano {' '.join(args)}: {result.stderr}"
    return result.stdout


def meltano_json(exe: Path, root: Path, *args: str) -> Any:
    return json.loads(meltano_output(exe, root, *args))


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


def selection(listing: str) -> set[tuple[str, str]]:
    """(status, stream.property) of each property line of a `meltano select --list --all`
    or `flx plugin streams` listing (their layouts differ in spacing and stream lines)."""
    found = set()
    for line in listing.splitlines():
        text = line.strip()
        if not text.startswith("[") or "]" not in text:
            continue
        status, rest = text[1:].split("]", 1)
        attribute = rest.split()[0] if rest.split() else ""
        if "." in attribute:
            found.add((status.strip(), attribute))
    return found


#: Custom plugins (a namespace, no variant): Meltano needs no Hub to install them.
MOVE_IN = """
default_environment: dev
project_id: 6a0c2f9e-4d0b-4c55-9b6e-00000000f1c0
environments:
- name: dev
plugins:
  extractors:
  - name: tap-postgres
    namespace: tap_postgres
    pip_url: meltanolabs-tap-postgres==0.10.0
    capabilities: [catalog, discover, state]
    config:
      sqlalchemy_url: {url}
      filter_schemas: [{schema}]
    select:
    - {stream}.*
    metadata:
      {stream}:
        replication-method: INCREMENTAL
        replication-key: updated_at
  loaders:
  - name: target-postgres
    namespace: target_postgres
    pip_url: meltanolabs-target-postgres==0.8.1
    config:
      sqlalchemy_url: {url}
      default_target_schema: dst_{schema}
jobs:
- name: pg-copy
  tasks:
  - tap-postgres target-postgres
"""


@pytest.mark.postgres
@pytest.mark.network
def test_a_project_moves_in_and_its_first_flx_run_goes_on_from_meltanos_bookmark(
    meltano: Path, tmp_path: Path, postgres_url: str
) -> None:
    """Real connectors from PyPI; the bookmark written into Meltano's own system database
    by Meltano (`meltano state set`); the imported pipeline moves only the rows after it."""
    import psycopg

    schema = f"src_{uuid.uuid4().hex[:6]}"
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
        conn.execute(
            f"CREATE TABLE {schema}.items (id int PRIMARY KEY, updated_at timestamptz NOT NULL)"
        )
        conn.execute(
            f"INSERT INTO {schema}.items SELECT g, timestamptz '2026-01-01 00:00+00' "
            "+ g * interval '1 minute' FROM generate_series(1, 150) g"
        )
    root = tmp_path / "project"
    root.mkdir()
    stream = f"{schema}-items"
    # The SDK taps insist on a password in the URL; the server trusts local connections.
    url = postgres_url.replace("postgres@", "postgres:trusted@", 1)
    (root / "meltano.yml").write_text(MOVE_IN.format(url=url, schema=schema, stream=stream))
    bookmark = {
        "bookmarks": {
            stream: {
                "replication_key": "updated_at",
                "replication_key_value": "2026-01-01T02:00:00+00:00",
            }
        }
    }
    state_id = "dev:tap-postgres-to-target-postgres"
    meltano_output(
        meltano, root, "state", "set", "--force", state_id, json.dumps({"singer_state": bookmark})
    )
    flx_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("FLX_", "TAP_", "TARGET_")) and k not in ("DATABASE_URL", "REDIS_URL")
    }
    flx_env.update(FLX_HOME=str(tmp_path / "home"), FLX_PLUGINS_DIR=str(PLUGINS), FLX_DAEMON="off")

    def flx(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(FLX), *args], cwd=root, env=flx_env, capture_output=True, text=True, timeout=900
        )
        assert done.returncode == 0, f"flx {' '.join(args)}: {done.stdout}{done.stderr}"
        return done

    # What Meltano reads back from its database is what FLX reads from it.
    got = meltano_json(meltano, root, "state", "get", state_id)
    assert read_states(str(root / ".meltano" / "meltano.db")) == {state_id: got["singer_state"]}
    flx("import", "meltano", "--state-from", ".meltano/meltano.db")
    flx("plugin", "install")
    # The streams and properties the imported pipeline selects are those Meltano selects.
    meltano_output(meltano, root, "install", "extractor", "tap-postgres")
    listed = meltano_output(meltano, root, "select", "tap-postgres", "--list", "--all")
    streams = flx("plugin", "streams", "tap-postgres", "--pipeline", "pg-copy").stdout
    theirs, ours = selection(listed), selection(streams)
    assert ours and ours == theirs, ours ^ theirs
    flx("run", "pg-copy")
    listed = json.loads(flx("--json", "execution", "list", "-p", "pg-copy").stdout)["items"]
    # 02:00 is row 120; the SDK's incremental filter is inclusive: rows 120..150.
    assert listed[0]["status"] == "succeeded", listed[0]["error"]
    assert listed[0]["stream_counts"] == {stream: 31}
    with psycopg.connect(postgres_url) as conn:
        copied = conn.execute(f"SELECT min(id), count(*) FROM dst_{schema}.items").fetchone()
    assert copied == (120, 31)


def _catalog_summary(catalog: dict[str, Any]) -> dict[str, Any]:
    """Per stream: its selection, its properties' selections and their schemas."""
    out = {}
    for stream in catalog["streams"]:
        entries = {tuple(m["breadcrumb"]): m["metadata"] for m in stream["metadata"]}
        out[stream["tap_stream_id"]] = (
            entries[()].get("selected"),
            {k[-1]: v.get("selected") for k, v in entries.items() if k},
            stream["schema"]["properties"],
        )
    return out


def _flx_catalog(root: Path, environment: str) -> dict[str, Any]:
    """The catalog an FLX run of the imported pipeline hands the tap."""
    (pipeline,) = read_project(root, environment=environment).pipelines
    if pipeline.catalog_path:
        provided = read_catalog_file(pipeline.catalog_path)
        return run_catalog(provided, select_filter=pipeline.select_filter, provided=True)
    return run_catalog(
        apply_schema(discover(), pipeline.schema_overrides),
        select=pipeline.select,
        metadata=pipeline.metadata,
        select_filter=pipeline.select_filter,
    )


async def test_the_extractor_extras_apply_as_meltano_applies_them(
    meltano: Path, tmp_path: Path, runtime: Runtime, flx_home: Path
) -> None:
    """schema, catalog, state, load_schema and select_filter: the values Meltano resolves,
    the catalog it hands the tap (discovered, and a catalog file), and a run that has both
    a stored state and a state file (the file wins in both)."""
    root = tmp_path / "project"
    shutil.copytree(PROJECTS / "extras", root)
    with_flx_connectors(root)
    extras = meltano_json(meltano, root, "config", "print", "tap-sample", "--extras")
    (pipeline,) = read_project(root).pipelines
    assert pipeline.schema_overrides == extras["_schema"]
    assert pipeline.select_filter == extras["_select_filter"]
    assert pipeline.load_schema == extras["_load_schema"]
    assert pipeline.state_path == str(root.resolve() / extras["_state"])
    for environment in ("dev", "fixed"):
        theirs = meltano_json(
            meltano, root, f"--environment={environment}", "invoke", "--dump=catalog", "tap-sample"
        )
        assert _catalog_summary(_flx_catalog(root, environment)) == _catalog_summary(theirs)
    # A stored state at users' row 0, the state file at row 2: Meltano starts from the file.
    stored = {"replication_key": "updated_at", "replication_key_value": "2026-01-01T00:00:00Z"}
    state_id = "dev:tap-sample-to-target-sample-jsonl"
    singer_state = {"singer_state": {"bookmarks": {"users": stored}}}
    meltano_output(meltano, root, "state", "set", "--force", state_id, json.dumps(singer_state))
    meltano_output(meltano, root, "run", "sample")
    written = {p.stem: p.read_text().count("\n") for p in (root / "tap_sample_raw").iterdir()}
    assert written == {"users": 7, "orders": 10}
    # FLX, with Meltano's state imported: past the file's bookmark, and still not used.
    imported = await runtime.app.execute(
        ApplyMeltanoImport(path=str(root), state_from=str(root / ".meltano" / "meltano.db")),
        principal=Principal.system(),
    )
    assert imported.ok and not imported.value.partial, imported.message
    requested = await runtime.app.execute(
        RunPipeline(pipeline="sample"), principal=Principal.system()
    )
    assert requested.ok and runtime.executor is not None, requested.message
    done = await runtime.executor.wait(requested.value.id)
    assert done.status is ExecutionStatus.SUCCEEDED, done.error
    assert done.stream_counts == written
    assert any("starts from the state file" in w for w in done.warnings)
    ours = {p.stem: p.read_text().count("\n") for p in (flx_home / "tap_sample_raw").iterdir()}
    assert ours == written


def _effective_config(runtime: Runtime, name: str) -> Any:
    """What FLX hands plugin ``name``: its settings with a value, as `flx plugin config`
    lists them (nothing in these projects is secret, so nothing is masked)."""
    from flx_meltano import GetPluginConfig

    async def go() -> dict[str, Any]:
        result = await runtime.app.execute(GetPluginConfig(name=name), principal=Principal.system())
        assert result.ok, result.message
        return {s["name"]: s["value"] for s in result.value if s["value"] is not None}

    return go()


def _nested(flat: dict[str, Any]) -> dict[str, Any]:
    """Dotted setting names (``core.dags_folder``) nested as Meltano prints them."""
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for parent in parents:
            node = node.setdefault(parent, {})
        node[leaf] = value
    return out


@pytest.mark.parametrize("name", ["small", "dbt_airflow"])
async def test_every_plugin_and_job_of_a_project_is_what_meltano_resolves(
    meltano: Path, tmp_path: Path, runtime: Runtime, name: str
) -> None:
    """Each imported plugin's effective config and each extractor's extras are the ones
    `meltano config print` resolves; each job's extract-load blocks are the pipeline's; and
    every plugin of the project that FLX does not run is listed as not imported."""
    root = tmp_path / "project"
    shutil.copytree(PROJECTS / name, root)
    (root / ".env").write_text(
        "TAP_FIXTURE_BIN=/opt/bin/tap-fixture\nTARGET_FIXTURE_BIN=/opt/bin/target-fixture\n"
        f"OUT_PATH={tmp_path / 'out.jsonl'}\n"
    )
    ours = read_project(root, resolve_env=True)
    plan = await runtime.app.execute(
        ApplyMeltanoImport(path=str(root), resolve_env=True), principal=Principal.system()
    )
    assert plan.ok, plan.message
    pipelines = {p.name: p for p in ours.pipelines}
    for spec in ours.plugins:
        theirs = meltano_json(meltano, root, "config", "--unsafe", "print", spec.name)
        config = await _effective_config(runtime, spec.name)
        # $MELTANO_EXTRACT__LOAD_SCHEMA has a value only within a run, in both tools.
        config = {k: v for k, v in config.items() if "MELTANO_EXTRACT__LOAD_SCHEMA" not in str(v)}
        assert _nested(config) == theirs, spec.name
        if spec.plugin_type != "extractor":
            continue
        extras = meltano_json(meltano, root, "config", "print", spec.name, "--extras")
        for pipeline in (p for p in ours.pipelines if p.extractor == spec.name):
            assert (pipeline.select or ["*.*"]) == extras["_select"], pipeline.name
            assert pipeline.metadata == extras["_metadata"], pipeline.name
            assert pipeline.schema_overrides == extras["_schema"], pipeline.name
            assert (pipeline.load_schema or spec.namespace) == extras["_load_schema"]
    left_out = {u.name for u in ours.unsupported}
    for job in meltano_json(meltano, root, "job", "list", "--format=json")["jobs"]:
        (task,) = job["tasks"]
        blocks = task.split()
        if job["job_name"] not in pipelines:
            # A task FLX cannot run as one pipeline is named with the block it cannot run.
            (why,) = [u.reason for u in ours.unsupported if u.name == job["job_name"]]
            assert blocks[-1] in why, why
            continue
        pipeline = pipelines[job["job_name"]]
        assert blocks == [pipeline.extractor, *pipeline.mappers, pipeline.loader], job
    imported = {p.name for p in ours.plugins}
    for kind in ("transformers", "transforms", "orchestrators", "utilities"):
        for item in yaml_plugins(root, kind):
            assert item not in imported and item in left_out, item


def yaml_plugins(root: Path, kind: str) -> list[str]:
    import yaml

    manifest = yaml.safe_load((root / "meltano.yml").read_text())
    return [str(p["name"]) for p in (manifest.get("plugins") or {}).get(kind) or []]

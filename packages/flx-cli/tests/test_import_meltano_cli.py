"""`flx import meltano`: the plan as a table or JSON, a dry run that leaves FLX_HOME as it
was, repeatable imports, exit code 3 for what is left out, one line for a bad project."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

PROJECTS = (
    Path(__file__).resolve().parents[2] / "flx-meltano" / "tests" / "meltano_import" / "projects"
)
PASSWORD = "s3cr3t-from-dotenv"


def copy(cli, name: str) -> Path:
    target = cli.work / "meltano" / name
    shutil.copytree(PROJECTS / name, target)
    return target


def snapshot(home: Path) -> dict[str, bytes] | None:
    """Every file under ``home`` with its bytes (None: no home at all)."""
    if not home.exists():
        return None
    return {str(p.relative_to(home)): p.read_bytes() for p in home.rglob("*") if p.is_file()}


def test_a_dry_run_creates_nothing_not_even_the_database(cli) -> None:
    home = cli.work / "home"
    root = copy(cli, "jobs")
    before = snapshot(home)
    # The suffix `meltano run` took from its environment goes into the state ids.
    suffix = {**cli.env, "MELTANO_RUN_STATE_ID_SUFFIX": "backfill"}
    result = cli("import", "meltano", str(root), "--dry-run", "--wide", check=False, env=suffix)
    assert result.returncode == 3, result.stderr  # the @once schedule is left out
    assert "would create" in result.stdout and "github-to-postgres" in result.stdout
    assert "state id prod:tap-github-to-target-postgres:backfill" in result.stdout
    assert "dry run: nothing was changed" in result.stdout
    assert snapshot(home) == before is None


def test_a_dry_run_of_a_changed_project_changes_nothing(cli) -> None:
    home = cli.work / "home"
    root = copy(cli, "dbt_airflow")
    cli("import", "meltano", str(root), check=False)
    text = (
        (root / "meltano.yml")
        .read_text()
        .replace("pip_url: target-duckdb\n", "pip_url: target-duckdb==0.6\n")
    )
    (root / "meltano.yml").write_text(text)
    before = snapshot(home)
    result = cli("import", "meltano", str(root), "--dry-run", "--json", check=False)
    plan = json.loads(result.stdout)
    assert plan["dry_run"] and not plan["applied"]
    assert {(c["name"], c["action"]) for c in plan["changes"]} >= {("target-duckdb", "update")}
    assert snapshot(home) == before


def test_import_then_again_reports_no_change(cli) -> None:
    root = copy(cli, "jobs")
    first = cli("import", "meltano", str(root), check=False)
    assert first.returncode == 3, first.stderr
    assert "imported: 6 created, 0 updated" in first.stdout
    again = cli("import", "meltano", str(root), check=False)
    assert "nothing to change" in again.stdout
    shown = json.loads(cli("pipeline", "show", "github-to-postgres", "--json").stdout)
    assert shown["mappers"] == ["meltano-map-transformer"]
    assert shown["state_id"] == "prod:tap-github-to-target-postgres"


def test_left_out_items_are_named_and_the_exit_code_is_3(cli) -> None:
    result = cli("import", "meltano", str(copy(cli, "dbt_airflow")), "--wide", check=False)
    assert result.returncode == 3, result.stderr
    out = result.stdout
    assert "Not imported" in out
    assert "dbt-duckdb" in out and "dbt transformers are not run by FLX" in out
    assert "airflow" in out and "orchestrator" in out


def test_a_complete_import_exits_0_and_masks_secrets(cli) -> None:
    root = copy(cli, "environments")
    result = cli("import", "meltano", str(root), "--resolve-env", "--json")
    assert PASSWORD not in result.stdout and PASSWORD not in result.stderr
    plan = json.loads(result.stdout)
    tap = next(c for c in plan["changes"] if c["name"] == "tap-postgres")
    assert tap["detail"]["config"]["password"] == "********"
    assert plan["unsupported"] == []
    table = cli("import", "meltano", str(root), "--resolve-env")
    assert PASSWORD not in table.stdout


def test_a_bad_project_is_one_line_naming_the_file(cli) -> None:
    bad = cli.work / "bad"
    bad.mkdir()
    (bad / "meltano.yml").write_text("plugins:\n  extractors: [\n")
    result = cli("import", "meltano", str(bad), check=False)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "meltano.yml: not valid YAML" in lines[0], result.stderr
    (bad / "meltano.yml").write_text(
        "plugins:\n  loaders:\n  - name: target-x\njobs:\n- name: j\n  tasks: [tap-nope target-x]\n"
    )
    result = cli("import", "meltano", str(bad), check=False)
    assert result.returncode == 1
    assert "job 'j' runs 'tap-nope', which the project does not define" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_extractor_extras_are_imported_and_a_dropped_job_is_left_in_flx(cli) -> None:
    root = copy(cli, "extras")
    manifest = root / "meltano.yml"
    bindir = str(Path(sys.executable).parent)
    manifest.write_text(manifest.read_text().replace("FLX_BIN", bindir))
    first = cli("import", "meltano", str(root), "--wide")
    assert "Not imported" not in first.stdout  # exit code 0: nothing left out
    shown = json.loads(cli("pipeline", "show", "sample", "--json").stdout)
    assert shown["state_path"] == str(root.resolve() / "extract" / "sample.state.json")
    assert (shown["load_schema"], shown["select_filter"]) == ("tap_sample_raw", ["*", "!events"])
    assert shown["schema_overrides"]["users"]["score"] == {"type": ["string", "null"]}
    text = manifest.read_text()
    manifest.write_text(text[: text.index("  loaders:")])  # the loader and the job are gone
    dry = cli("import", "meltano", str(root), "--dry-run", "--wide")
    assert "would left" not in dry.stdout
    for name in ("target-sample-jsonl", "sample"):
        line = next(x for x in dry.stdout.splitlines() if f" {name} " in x)
        assert "left" in line and "removed from the project, left in FLX" in line
    assert "FLX keeps them" in dry.stdout
    plan = json.loads(cli("import", "meltano", str(root), "--json").stdout)
    assert {(c["kind"], c["name"]) for c in plan["changes"] if c["action"] == "left"} == {
        ("plugin", "target-sample-jsonl"),
        ("pipeline", "sample"),
    }
    assert json.loads(cli("pipeline", "show", "sample", "--json").stdout)["name"] == "sample"

"""Reading Meltano projects as Meltano resolves them: includes, inheritance, environments,
env references, lock files, jobs, mappers, schedules, what is left out, and its states."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from flx_core.domain.value_objects import SettingKind
from flx_meltano import ProjectError, read_project, read_states

from .conftest import PROJECTS, write_system_db


def plugin(project, name):
    return next(p for p in project.plugins if p.name == name)


def pipeline(project, name):
    return next(p for p in project.pipelines if p.name == name)


def test_default_environment_overrides_config_and_includes_are_merged() -> None:
    project = read_project(PROJECTS / "environments")
    assert project.environment == "dev"
    tap = plugin(project, "tap-postgres")
    assert tap.config["host"] == "dev-db.internal"
    assert tap.config["port"] == 5432 and tap.config["filter_schemas"] == ["public"]
    assert tap.select == ["public-orders.*", "!public-orders.internal_note"]
    assert tap.metadata["public-orders"]["replication-key"] == "updated_at"
    # The loader and the jobs come from the included files.
    assert plugin(project, "target-jsonl").pip_url == "target-jsonl==0.1.4"
    assert {p.name for p in project.pipelines} == {"orders", "reporting"}
    assert pipeline(project, "orders").state_id == "dev:tap-postgres-to-target-jsonl"
    assert pipeline(project, "orders").select == tap.select


def test_a_named_environment_wins_over_the_default() -> None:
    project = read_project(PROJECTS / "environments", environment="prod")
    tap = plugin(project, "tap-postgres")
    assert (tap.config["host"], tap.config["port"]) == ("prod-db.internal", 6432)
    assert tap.select == ["public-orders.*", "public-customers.*"]
    assert plugin(project, "tap-postgres-reporting").config["region"] == "us-east-1"
    assert pipeline(project, "orders").state_id == "prod:tap-postgres-to-target-jsonl:blue"


def test_inherit_from_takes_the_parents_values_and_lays_its_own_over_them() -> None:
    child = plugin(read_project(PROJECTS / "environments"), "tap-postgres-reporting")
    assert child.config["filter_schemas"] == ["reporting"]
    assert child.config["host"] == "dev-db.internal"  # the parent's, in this environment
    assert child.config["region"] == "eu-west-1"  # from the project's env block
    assert child.pip_url == "meltanolabs-tap-postgres==0.0.9"
    assert child.variant == "meltanolabs"
    assert "stream-maps" in child.capabilities  # from the parent's lock file


def test_lock_files_declare_settings_and_sensitive_ones_are_secret() -> None:
    tap = plugin(read_project(PROJECTS / "environments"), "tap-postgres")
    kinds = {s.name: s.kind for s in tap.settings}
    assert kinds["password"] is SettingKind.SECRET  # kind: password in the lock
    assert kinds["ssl_key"] is SettingKind.SECRET  # sensitive: true in meltano.yml
    assert kinds["port"] is SettingKind.INTEGER and kinds["filter_schemas"] is SettingKind.ARRAY
    # meltano.yml's pip_url wins over the lock's.
    assert tap.pip_url == "meltanolabs-tap-postgres==0.0.9"
    assert tap.namespace == "tap_postgres"


def test_env_references_stay_references_unless_resolved_from_dotenv() -> None:
    kept = plugin(read_project(PROJECTS / "environments"), "tap-postgres")
    assert kept.config["password"] == "$TAP_POSTGRES_PASSWORD"
    assert kept.config["user"] == "meltano"
    resolved = plugin(read_project(PROJECTS / "environments", resolve_env=True), "tap-postgres")
    assert resolved.config["password"] == "s3cr3t-from-dotenv"
    # TAP_POSTGRES_USER in .env sets the declared setting `user`, over meltano.yml.
    assert resolved.config["user"] == "reader"


def test_references_flx_would_pass_as_text_are_listed() -> None:
    left_out = {u.name: u.reason for u in read_project(PROJECTS / "environments").unsupported}
    # TAP_POSTGRES_PASSWORD is the variable FLX itself reads for tap-postgres's password...
    assert "tap-postgres: password" not in left_out
    # ...but not for the child's, which would get the text "$TAP_POSTGRES_PASSWORD".
    assert left_out["tap-postgres-reporting: password"].startswith(
        "FLX does not expand $TAP_POSTGRES_PASSWORD at run time; "
        "set TAP_POSTGRES_REPORTING_PASSWORD where FLX runs"
    )
    resolved = read_project(PROJECTS / "environments", resolve_env=True)
    assert not [u for u in resolved.unsupported if u.kind == "env reference"]


def test_jobs_with_a_mapping_become_pipelines_with_mappers_and_schedules() -> None:
    project = read_project(PROJECTS / "jobs")
    github = pipeline(project, "github-to-postgres")
    assert github.extractor == "tap-github" and github.loader == "target-postgres"
    assert github.mappers == ["meltano-map-transformer"]
    assert github.config["meltano-map-transformer"]["stream_maps"]["commits"] == {
        "author_email": "md5(author_email)"
    }
    assert github.schedule == "@hourly"
    assert github.state_id == "prod:tap-github-to-target-postgres"
    assert pipeline(project, "gitlab-to-postgres").schedule == "0 3 * * *"
    left_out = {(u.kind, u.name) for u in project.unsupported}
    assert ("schedule", "gitlab-once") in left_out


def test_what_flx_cannot_run_is_listed_with_the_reason_not_dropped() -> None:
    project = read_project(PROJECTS / "dbt_airflow")
    left_out = {(u.kind, u.name): u.reason for u in project.unsupported}
    assert "dbt" in left_out[("transformer", "dbt-duckdb")]
    assert "dbt" in left_out[("transform", "tap-csv-models")]
    assert "schedules pipelines itself" in left_out[("orchestrator", "airflow")]
    assert ("utility", "sqlfluff") in left_out
    assert ("commands", "sqlfluff") in left_out and ("container", "sqlfluff") in left_out
    assert "import it with --state-from" in left_out[("state_backend", "state_backend")]
    assert not {k for k in left_out if k[0] == "extra"}  # the extractor extras are imported
    assert "not passed by FLX" in left_out[("env", "tap-csv")]
    # A task that runs dbt after the load is left out; the plain one is imported.
    assert left_out[("task", "load-and-transform")].startswith(
        "task 'tap-csv target-duckdb dbt-duckdb:run' runs dbt-duckdb:run;"
    )
    assert [p.name for p in project.pipelines] == ["load-people"]
    people = project.pipelines[0]
    assert people.load_schema == "raw_people"
    assert people.schema_overrides == {"people": {"age": {"type": ["integer", "null"]}}}


def test_a_yaml_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text("plugins:\n  extractors: [\n")
    with pytest.raises(ProjectError, match=r"meltano\.yml: not valid YAML"):
        read_project(tmp_path)


def test_a_job_running_an_unknown_plugin_names_it(tmp_path: Path) -> None:
    (tmp_path / "meltano.yml").write_text(
        "plugins:\n  loaders:\n  - name: target-x\njobs:\n- name: j\n  tasks: [tap-nope target-x]\n"
    )
    with pytest.raises(ProjectError, match=r"meltano\.yml: job 'j' runs 'tap-nope'"):
        read_project(tmp_path)


def test_an_unknown_environment_is_refused() -> None:
    with pytest.raises(ProjectError, match="environment 'staging' is not defined"):
        read_project(PROJECTS / "environments", environment="staging")


def test_system_database_states_merge_partial_over_complete(tmp_path: Path) -> None:
    db = write_system_db(
        tmp_path / ".meltano" / "meltano.db",
        {
            "dev:tap-a-to-target-b": (
                {"bookmarks": {"orders": {"id": 10}, "users": {"id": 3}}},
                {"bookmarks": {"orders": {"id": 12}}},
            ),
            "dev:tap-c-to-target-d": ({"bookmarks": {"x": {"position": 7}}}, None),
        },
    )
    assert read_states(str(db)) == {
        "dev:tap-a-to-target-b": {"bookmarks": {"orders": {"id": 12}, "users": {"id": 3}}},
        "dev:tap-c-to-target-d": {"bookmarks": {"x": {"position": 7}}},
    }


def test_state_get_output_files_are_read(tmp_path: Path) -> None:
    one = tmp_path / "dev:tap-a-to-target-b.json"
    one.write_text(json.dumps({"singer_state": {"bookmarks": {"a": {"id": 1}}}}))
    assert read_states(str(one)) == {"dev:tap-a-to-target-b": {"bookmarks": {"a": {"id": 1}}}}
    many = tmp_path / "states.json"
    many.write_text(
        json.dumps({"s1": {"singer_state": {"v": 1}}, "s2": {"singer_state": {"v": 2}}})
    )
    assert read_states(str(many)) == {"s1": {"v": 1}, "s2": {"v": 2}}


def test_a_state_stored_as_a_whole_state_message_is_unwrapped(tmp_path: Path) -> None:
    # What Meltano stores when a target echoes the STATE message itself, not its value.
    echoed = tmp_path / "dev:tap-a-to-target-b.json"
    message = {"type": "STATE", "value": {"bookmarks": {"items": {"position": 7}}}}
    echoed.write_text(json.dumps({"singer_state": message}))
    assert read_states(str(echoed)) == {
        "dev:tap-a-to-target-b": {"bookmarks": {"items": {"position": 7}}}
    }


def test_a_postgresql_system_database_is_read_the_same_way(empty_postgres_url: str) -> None:
    import psycopg

    with psycopg.connect(empty_postgres_url, autocommit=True) as conn:
        conn.execute(
            "CREATE TABLE state (state_id VARCHAR(900) PRIMARY KEY, partial_state VARCHAR,"
            " completed_state VARCHAR, updated_at TIMESTAMP)"
        )
        conn.execute(
            "INSERT INTO state VALUES (%s, %s, %s, now())",
            (
                "prod:tap-a-to-target-b",
                json.dumps({"singer_state": {"bookmarks": {"a": {"id": 9}}}}),
                json.dumps({"singer_state": {"bookmarks": {"a": {"id": 4}, "b": {"id": 1}}}}),
            ),
        )
    assert read_states(empty_postgres_url) == {
        "prod:tap-a-to-target-b": {"bookmarks": {"a": {"id": 9}, "b": {"id": 1}}}
    }


SUFFIXED = """
default_environment: prod
environments:
- name: prod
  state_id_suffix: ${{SHARD}}
plugins:
  extractors:
  - {{name: tap-a, namespace: tap_a, executable: tap-a}}
  loaders:
  - {{name: target-b, namespace: target_b, executable: target-b}}
jobs:
- name: a-to-b
  tasks: [tap-a target-b]
{extra}"""


def _suffixed(tmp_path: Path, dotenv: str = "", extra: str = "") -> Path:
    (tmp_path / "meltano.yml").write_text(SUFFIXED.format(extra=extra))
    (tmp_path / ".env").write_text(dotenv)
    return tmp_path


def test_the_environments_state_id_suffix_is_resolved_as_meltano_run_resolves_it(
    tmp_path: Path,
) -> None:
    root = _suffixed(tmp_path, dotenv="SHARD=eu1\n")
    (job,) = read_project(root).pipelines
    assert job.state_id == "prod:tap-a-to-target-b:eu1"
    # --state-id-suffix (MELTANO_RUN_STATE_ID_SUFFIX) wins, as with `meltano run`.
    (job,) = read_project(root, state_id_suffix="backfill").pipelines
    assert job.state_id == "prod:tap-a-to-target-b:backfill"


def test_a_suffix_that_cannot_be_resolved_or_has_a_colon_is_refused_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SHARD", raising=False)
    root = _suffixed(tmp_path)
    with pytest.raises(ProjectError, match=r"state_id_suffix refers to \$SHARD, which is not set"):
        read_project(root)
    # The environment of the import resolves it too (a state id is fixed at import).
    monkeypatch.setenv("SHARD", "us2")
    (job,) = read_project(root).pipelines
    assert job.state_id == "prod:tap-a-to-target-b:us2"
    with pytest.raises(ProjectError, match="'a:b' contains ':'"):
        read_project(root, state_id_suffix="a:b")

"""Plugins over HTTP: records and settings with secrets masked in every answer, effective
config, a tap's streams, the built-in connectors, and installs as background jobs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

SECRET = "hunter2hunter2"
PLUGIN = {"plugin_type": "extractor", "name": "tap-things", "executable": "tap-things"}


def add(api: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.operator.post("/api/v1/plugins", json=body or PLUGIN)
    assert response.status_code == 201, response.text
    return response.json()


def until_ended(api: Any, location: str, deadline: float = 180.0) -> dict[str, Any]:
    """Poll an install job until it succeeded or failed."""
    client = api.viewer
    end = time.monotonic() + deadline
    while True:
        response = client.get(location)
        assert response.status_code == 200, response.text
        job: dict[str, Any] = response.json()
        if job["status"] in ("succeeded", "failed"):
            return job
        assert time.monotonic() < end, f"install job still {job['status']}: {job}"
        time.sleep(0.05)


def local_package(root: Path, name: str) -> Path:
    """A tiny installable project with a console script ``name``."""
    pkg = root / f"{name}-src"
    module = name.replace("-", "_")
    (pkg / module).mkdir(parents=True)
    (pkg / module / "__init__.py").write_text(f"def main():\n    print('{name}')\n")
    (pkg / "pyproject.toml").write_text(
        f'[project]\nname = "{name}"\nversion = "1.0"\n'
        f'[project.scripts]\n"{name}" = "{module}:main"\n'
        '[build-system]\nrequires = ["hatchling"]\nbuild-backend = "hatchling.build"\n'
    )
    return pkg


def test_a_secret_setting_never_comes_back_in_any_plugin_response(api: Any) -> None:
    add(api)
    # Declared secret by the request, though its name does not look like one.
    declared = api.operator.put(
        "/api/v1/plugins/tap-things/settings/access_code", json={"value": SECRET, "secret": True}
    )
    assert declared.status_code == 200, declared.text
    assert SECRET not in declared.text
    assert declared.json()["config"]["access_code"] == "********"
    # Secret by its name.
    named = api.operator.put(
        "/api/v1/plugins/tap-things/settings/password", json={"value": SECRET + "2"}
    )
    assert named.status_code == 200, named.text
    plain = api.operator.put("/api/v1/plugins/tap-things/settings/region", json={"value": "eu"})
    assert plain.json()["config"]["region"] == "eu"
    # A PATCH replaces the whole config.
    patched = api.operator.patch(
        "/api/v1/plugins/tap-things",
        json={
            "config": {
                "access_code": SECRET,
                "region": "eu",
                "dsn": f"postgresql://u:{SECRET}@db/x",
            }
        },
    )
    assert patched.status_code == 200, patched.text
    responses = [
        declared,
        named,
        patched,
        api.viewer.get("/api/v1/plugins/tap-things"),
        api.viewer.get("/api/v1/plugins"),
        api.viewer.get("/api/v1/plugins", params={"plugin_type": "extractor"}),
        api.viewer.get("/api/v1/plugins/tap-things/config"),
    ]
    for response in responses:
        assert response.status_code == 200, response.text
        assert SECRET not in response.text
    config = {row["name"]: row for row in responses[-1].json()}
    assert config["access_code"] == config["access_code"] | {"value": "********", "secret": True}
    assert config["access_code"]["source"] == "plugin"
    assert config["region"]["value"] == "eu"


def test_add_get_change_unset_and_remove_a_plugin(api: Any) -> None:
    created = api.operator.post("/api/v1/plugins", json=PLUGIN)
    assert created.status_code == 201
    assert created.headers["location"] == "/api/v1/plugins/tap-things"
    assert api.operator.post("/api/v1/plugins", json=PLUGIN).status_code == 409
    changed = api.operator.patch(
        "/api/v1/plugins/tap-things", json={"capabilities": ["discover"], "pip_url": "tap-things"}
    )
    assert changed.status_code == 200, changed.text
    shown = api.viewer.get(created.headers["location"]).json()
    assert (shown["capabilities"], shown["pip_url"]) == (["discover"], "tap-things")
    api.operator.put("/api/v1/plugins/tap-things/settings/region", json={"value": "eu"})
    unset = api.operator.delete("/api/v1/plugins/tap-things/settings/region")
    assert unset.status_code == 200
    assert "region" not in unset.json()["config"]
    bad = api.operator.patch("/api/v1/plugins/tap-things", json={"namespace": 3})
    assert bad.status_code == 422
    assert api.operator.delete("/api/v1/plugins/tap-things").status_code == 204
    assert api.viewer.get("/api/v1/plugins/tap-things").status_code == 404
    only_loaders = api.viewer.get("/api/v1/plugins", params={"plugin_type": "loader"}).json()
    assert only_loaders and {p["plugin_type"] for p in only_loaders} == {"loader"}


def test_a_plugin_in_use_is_not_removed(sqlite_api: Any) -> None:
    pipeline = {"name": "p", "extractor": "tap-flx-sample", "loader": "target-flx-jsonl"}
    assert sqlite_api.operator.post("/api/v1/pipelines", json=pipeline).status_code == 201
    refused = sqlite_api.operator.delete("/api/v1/plugins/tap-flx-sample")
    assert refused.status_code == 422
    assert refused.json()["details"]["pipelines"] == ["p"]


def test_a_viewer_reads_plugins_but_changes_none(sqlite_api: Any) -> None:
    add(sqlite_api)
    viewer = sqlite_api.viewer
    assert viewer.get("/api/v1/plugins/tap-things").status_code == 200
    writes = [
        viewer.post("/api/v1/plugins", json={**PLUGIN, "name": "tap-other"}),
        viewer.patch("/api/v1/plugins/tap-things", json={"pip_url": "x"}),
        viewer.put("/api/v1/plugins/tap-things/settings/a", json={"value": 1}),
        viewer.delete("/api/v1/plugins/tap-things/settings/a"),
        viewer.delete("/api/v1/plugins/tap-things"),
        viewer.post("/api/v1/plugins/install", json={"names": ["tap-things"]}),
        viewer.post("/api/v1/plugins/builtin"),
    ]
    for response in writes:
        assert response.status_code == 403, response.text
        assert response.json()["code"] == "permission_denied"
    assert sqlite_api.anonymous.get("/api/v1/plugins").status_code == 401


def test_the_builtin_connectors_come_back_when_registered(sqlite_api: Any) -> None:
    assert sqlite_api.operator.delete("/api/v1/plugins/target-flx-sqlite").status_code == 204
    registered = sqlite_api.admin.post("/api/v1/plugins/builtin")
    assert registered.status_code == 200, registered.text
    names = {p["name"] for p in registered.json()}
    assert names == {"tap-flx-sample", "target-flx-jsonl", "target-flx-sqlite"}
    assert sqlite_api.viewer.get("/api/v1/plugins/target-flx-sqlite").status_code == 200


def test_streams_of_a_tap_and_trial_select_rules(sqlite_api: Any) -> None:
    listed = sqlite_api.operator.get("/api/v1/plugins/tap-flx-sample/streams")
    assert listed.status_code == 200, listed.text
    body = listed.json()
    assert {s["stream"] for s in body["streams"]} == {"users", "orders", "events"}
    tried = sqlite_api.operator.post(
        "/api/v1/plugins/tap-flx-sample/streams", json={"select": ["users.*", "nothing.*"]}
    )
    assert tried.status_code == 200, tried.text
    selected = {s["stream"]: s["selected"] for s in tried.json()["streams"]}
    assert selected == {"users": True, "orders": False, "events": False}
    assert tried.json()["unmatched"]
    loader = sqlite_api.operator.get("/api/v1/plugins/target-flx-jsonl/streams")
    assert loader.status_code == 422
    # Discovery starts the tap with the pipeline's credentials: a viewer may not.
    assert sqlite_api.viewer.get("/api/v1/plugins/tap-flx-sample/streams").status_code == 403


def test_an_install_job_is_accepted_then_followed_to_its_end(api: Any) -> None:
    add(api)  # no pip_url: it runs from PATH, its install is skipped
    accepted = api.operator.post("/api/v1/plugins/install", json={"names": ["tap-things"]})
    assert accepted.status_code == 202, accepted.text
    job = accepted.json()
    assert job["status"] == "queued"
    assert job["names"] == ["tap-things"]
    assert job["requested_by"] == "operator@example.com"
    assert job["created_at"]
    location = accepted.headers["location"]
    assert location == f"/api/v1/plugins/install/{job['id']}"
    ended = until_ended(api, location)
    assert ended["status"] == "succeeded", ended
    assert [(r["name"], r["status"]) for r in ended["results"]] == [("tap-things", "skipped")]
    assert ended["error"] is None


def test_install_refusals(sqlite_api: Any) -> None:
    unknown = sqlite_api.operator.post("/api/v1/plugins/install", json={"names": ["tap-nope"]})
    assert unknown.status_code == 404
    assert unknown.json()["details"]["plugins"] == ["tap-nope"]
    nothing = sqlite_api.operator.post("/api/v1/plugins/install", json={})
    assert nothing.status_code == 422
    assert sqlite_api.viewer.get("/api/v1/plugins/install/not-a-job").status_code == 404


@pytest.mark.network
def test_a_real_install_succeeds_and_a_broken_one_fails_with_the_error(
    sqlite_api: Any, tmp_path: Path
) -> None:
    add(sqlite_api, {**PLUGIN, "pip_url": str(local_package(tmp_path, "tap-things"))})
    add(
        sqlite_api,
        {**PLUGIN, "name": "tap-broken", "pip_url": str(tmp_path / "no-such-project")},
    )
    good = sqlite_api.operator.post("/api/v1/plugins/install", json={"names": ["tap-things"]})
    bad = sqlite_api.operator.post("/api/v1/plugins/install", json={"names": ["tap-broken"]})
    installed = until_ended(sqlite_api, good.headers["location"])
    assert installed["status"] == "succeeded", installed
    assert installed["results"][0]["status"] == "installed"
    venv = sqlite_api.settings.plugins_path / "extractor" / "tap-things" / "venv"
    assert (venv / "bin" / "tap-things").exists()
    failed = until_ended(sqlite_api, bad.headers["location"])
    assert failed["status"] == "failed"
    assert failed["error"].startswith("tap-broken: ")
    assert "no-such-project" in failed["error"]
    assert failed["results"][0]["status"] == "failed"

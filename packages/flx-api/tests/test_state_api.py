"""Singer state over HTTP: every change a new version, history and restore, export and
import, and who may write."""

from __future__ import annotations

from typing import Any

FIRST = {"bookmarks": {"users": {"updated_at": "2026-01-01"}}}
SECOND = {"bookmarks": {"orders": {"updated_at": "2026-02-01"}}}


def put(api: Any, state_id: str, **body: Any) -> dict[str, Any]:
    response = api.operator.put(f"/api/v1/state/{state_id}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_set_get_history_restore_clear_export_and_import(api: Any) -> None:
    assert put(api, "orders", value=FIRST)["version"] == 1
    merged = put(api, "orders", value=SECOND, merge=True)
    assert merged["version"] == 2
    assert merged["value"]["bookmarks"] == FIRST["bookmarks"] | SECOND["bookmarks"]
    current = api.viewer.get("/api/v1/state/orders").json()
    assert (current["version"], current["value"]) == (2, merged["value"])
    history = api.viewer.get("/api/v1/state/orders/history").json()
    assert [v["version"] for v in history] == [2, 1]
    assert (
        api.viewer.get("/api/v1/state/orders/history", params={"limit": 1}).json()[0]["version"]
        == 2
    )

    restored = api.operator.post("/api/v1/state/orders/restore", json={"version": 1})
    assert restored.status_code == 200, restored.text
    assert (restored.json()["version"], restored.json()["value"]) == (3, FIRST)
    assert restored.json()["note"] == "restored from version 1"

    exported = api.viewer.get("/api/v1/state/export")
    assert exported.status_code == 200, exported.text
    document = exported.json()
    assert document == {"format": "flx-state-export/1", "states": {"orders": FIRST}}

    cleared = api.operator.delete("/api/v1/state/orders")
    assert cleared.status_code == 200, cleared.text
    assert (cleared.json()["version"], cleared.json()["value"]) == (4, {})
    imported = api.operator.post("/api/v1/state/import", json=document)
    assert imported.status_code == 200, imported.text
    assert [(v["state_id"], v["version"]) for v in imported.json()] == [("orders", 5)]
    assert api.viewer.get("/api/v1/state/orders").json()["value"] == FIRST
    listed = api.viewer.get("/api/v1/state").json()
    assert [(v["state_id"], v["version"]) for v in listed] == [("orders", 5)]


def test_export_of_chosen_ids_and_unknown_ids(sqlite_api: Any) -> None:
    put(sqlite_api, "a", value=FIRST)
    put(sqlite_api, "b", value=SECOND)
    only_b = sqlite_api.viewer.get("/api/v1/state/export", params={"state_id": ["b"]})
    assert only_b.json()["states"] == {"b": SECOND}
    viewer = sqlite_api.viewer
    assert viewer.get("/api/v1/state/export", params={"state_id": ["zz"]}).status_code == 404
    assert viewer.get("/api/v1/state/zz").status_code == 404
    assert viewer.get("/api/v1/state/zz/history").status_code == 404
    missing = sqlite_api.operator.post("/api/v1/state/a/restore", json={"version": 9})
    assert missing.status_code == 404
    assert sqlite_api.operator.delete("/api/v1/state/zz").status_code == 404


def test_bad_documents_and_values_are_refused(sqlite_api: Any) -> None:
    operator = sqlite_api.operator
    not_an_object = operator.put("/api/v1/state/a", json={"value": [1, 2]})
    assert not_an_object.status_code == 422
    assert "body.value" in {e["field"] for e in not_an_object.json()["errors"]}
    other_format = operator.post(
        "/api/v1/state/import", json={"format": "meltano", "states": {"a": {}}}
    )
    assert other_format.status_code == 422
    empty = operator.post("/api/v1/state/import", json={"states": {}})
    assert empty.status_code == 422
    assert operator.post("/api/v1/state/a/restore", json={"version": 0}).status_code == 422


def test_a_viewer_reads_state_but_writes_none(sqlite_api: Any) -> None:
    put(sqlite_api, "a", value=FIRST)
    viewer = sqlite_api.viewer
    assert viewer.get("/api/v1/state/a").status_code == 200
    writes = [
        viewer.put("/api/v1/state/a", json={"value": SECOND}),
        viewer.delete("/api/v1/state/a"),
        viewer.post("/api/v1/state/a/restore", json={"version": 1}),
        viewer.post("/api/v1/state/import", json={"states": {"a": SECOND}}),
    ]
    assert [r.status_code for r in writes] == [403] * 4
    assert sqlite_api.viewer.get("/api/v1/state/a").json()["version"] == 1

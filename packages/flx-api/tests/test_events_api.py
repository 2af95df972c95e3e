"""The audit trail over HTTP: filters, pages by position, and who may read it."""

from __future__ import annotations

from typing import Any


def trail(client: Any, **params: Any) -> list[dict[str, Any]]:
    response = client.get("/api/v1/events", params={"limit": 500} | params)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    items: list[dict[str, Any]] = response.json()["items"]
    return items


def test_the_trail_is_filtered_and_paged_in_position_order(api: Any) -> None:
    created = api.operator.post(
        "/api/v1/pipelines",
        json={"name": "orders", "extractor": "tap-flx-sample", "loader": "target-flx-jsonl"},
    ).json()
    patched = api.operator.patch("/api/v1/pipelines/orders", json={"description": "nightly"})
    assert patched.status_code == 200, patched.text

    everything = trail(api.admin)
    positions = [e["position"] for e in everything]
    assert positions == sorted(set(positions))
    assert {"UserCreated", "LoginSucceeded", "PipelineCreated"} <= {
        e["event_type"] for e in everything
    }
    about = trail(api.admin, aggregate_id=created["id"])
    assert [e["event_type"] for e in about] == ["PipelineCreated", "PipelineUpdated"]
    assert about[1]["payload"]["changes"] == {"description": "nightly"}
    assert {e["actor"] for e in about} == {"operator@example.com"}
    by_type = trail(api.admin, event_type="PipelineUpdated")
    assert [e["aggregate_id"] for e in by_type] == [created["id"]]
    by_actor = trail(api.admin, actor="operator@example.com")
    assert {e["actor"] for e in by_actor} == {"operator@example.com"}
    assert {e["event_type"] for e in by_actor} >= {"PipelineCreated", "PipelineUpdated"}
    since = about[1]["occurred_at"]
    assert about[1]["event_id"] in {e["event_id"] for e in trail(api.admin, since=since)}
    assert about[1]["event_id"] not in {e["event_id"] for e in trail(api.admin, until=since)}
    assert trail(api.admin, after=positions[-2]) == everything[-1:]

    admin = api.admin
    for name in ("cursor", "after"):
        pages: list[list[int]] = []
        params: dict[str, Any] = {"limit": 2}
        for _ in range(100):
            page = admin.get("/api/v1/events", params=params).json()
            pages.append([e["position"] for e in page["items"]])
            if page["next_cursor"] is None:
                break
            params = {"limit": 2, name: page["next_cursor"]}
        assert [p for page in pages for p in page] == positions
        assert all(len(page) == 2 for page in pages[:-1])


def test_only_holders_of_audit_read_read_the_trail(sqlite_api: Any) -> None:
    assert sqlite_api.operator.get("/api/v1/events").status_code == 200
    refused = sqlite_api.viewer.get("/api/v1/events")
    assert refused.status_code == 403
    assert refused.json()["details"]["permission"] == "audit:read"
    assert sqlite_api.anonymous.get("/api/v1/events").status_code == 401


def test_bad_trail_parameters_are_422_with_their_field(sqlite_api: Any) -> None:
    for params, field in (
        ({"limit": 0}, "query.limit"),
        ({"after": -1}, "query.after"),
        ({"cursor": "next"}, "query.cursor"),
        ({"since": "yesterday"}, "query.since"),
    ):
        response = sqlite_api.admin.get("/api/v1/events", params=params)
        assert response.status_code == 422, (params, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}

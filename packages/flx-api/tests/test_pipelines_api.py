"""Pipelines over HTTP: create, read with ETag, change with If-Match, run idempotently."""

from __future__ import annotations

from typing import Any

PIPELINE = {
    "name": "orders",
    "extractor": "tap-flx-sample",
    "loader": "target-flx-jsonl",
    "config": {"tap-flx-sample": {"records": 10, "password": "hunter2hunter2"}},
}


def create(api: Any, body: dict[str, Any] | None = None) -> dict[str, Any]:
    response = api.operator.post("/api/v1/pipelines", json=body or PIPELINE)
    assert response.status_code == 201, response.text
    return response.json()


def test_create_returns_the_pipeline_with_its_location_and_secrets_masked(api: Any) -> None:
    response = api.operator.post("/api/v1/pipelines", json=PIPELINE)
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "orders"
    assert response.headers["location"] == f"/api/v1/pipelines/{body['id']}"
    assert "hunter2hunter2" not in response.text
    assert body["config"]["tap-flx-sample"]["records"] == 10
    shown = api.viewer.get("/api/v1/pipelines/orders")
    assert shown.status_code == 200
    assert "hunter2hunter2" not in shown.text
    assert shown.headers["etag"] == f'"{body["version"]}"'


def test_patch_with_a_stale_if_match_is_412_and_changes_nothing(api: Any) -> None:
    created = create(api)
    etag = api.viewer.get("/api/v1/pipelines/orders").headers["etag"]
    first = api.operator.patch(
        "/api/v1/pipelines/orders", json={"description": "one"}, headers={"If-Match": etag}
    )
    assert first.status_code == 200, first.text
    assert first.headers["etag"] != etag
    stale = api.operator.patch(
        "/api/v1/pipelines/orders", json={"description": "two"}, headers={"If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.headers["content-type"] == "application/problem+json"
    assert stale.json()["code"] == "precondition_failed"
    assert api.viewer.get(f"/api/v1/pipelines/{created['id']}").json()["description"] == "one"


def test_a_bad_payload_is_422_with_the_field_paths(api: Any) -> None:
    response = api.operator.post(
        "/api/v1/pipelines", json={"name": "Bad Name!", "extractor": "tap-x"}
    )
    assert response.status_code == 422
    problem = response.json()
    fields = {e["field"] for e in problem["errors"]}
    assert "body.loader" in fields
    assert problem["type"] == "urn:flx:problem:invalid"


def test_list_pages_with_a_cursor_until_the_last_page(api: Any) -> None:
    for n in range(5):
        create(api, {**PIPELINE, "name": f"p{n}"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = api.viewer.get("/api/v1/pipelines", params=params).json()
        seen += [p["name"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == [f"p{n}" for n in range(5)]


def test_viewer_cannot_write_and_anonymous_cannot_read(api: Any) -> None:
    create(api)
    assert api.viewer.post("/api/v1/pipelines", json={**PIPELINE, "name": "x"}).status_code == 403
    assert api.viewer.delete("/api/v1/pipelines/orders").status_code == 403
    missing = api.anonymous.get("/api/v1/pipelines")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"].startswith("Bearer")
    bad = api.client(None, Authorization="Bearer not-a-token").get("/api/v1/pipelines")
    assert bad.status_code == 401
    assert bad.json()["details"]["reason"] == "malformed"


def test_a_config_read_back_masked_and_sent_again_keeps_the_secret(api: Any) -> None:
    """GET, edit one value, PATCH the whole config back: the masked secret is not
    overwritten with the mask (the run would get '********' as its password)."""
    create(
        api,
        {
            **PIPELINE,
            "config": {
                "tap-flx-sample": {
                    "records": 10,
                    "password": "hunter2hunter2",
                    "url": "postgresql://u:pw-in-url@db/x",
                }
            },
        },
    )
    shown = api.viewer.get("/api/v1/pipelines/orders").json()
    config = shown["config"]
    assert config["tap-flx-sample"]["password"] == "********"
    config["tap-flx-sample"]["records"] = 11
    changed = api.operator.patch("/api/v1/pipelines/orders", json={"config": config})
    assert changed.status_code == 200, changed.text

    async def stored() -> dict[str, Any]:
        from flx_core.application import GetPipeline, ProcessKind
        from flx_core.bootstrap import bootstrap
        from flx_core.domain import Principal

        runtime = await bootstrap(api.settings, kind=ProcessKind.CLI, migrate=False)
        try:
            result = await runtime.app.execute(
                GetPipeline(pipeline="orders"), principal=Principal.system()
            )
            return dict(result.unwrap().config["tap-flx-sample"])
        finally:
            await runtime.aclose()

    import asyncio

    values = asyncio.run(stored())
    assert values == {
        "records": 11,
        "password": "hunter2hunter2",
        "url": "postgresql://u:pw-in-url@db/x",
    }

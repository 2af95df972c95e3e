"""Executions over HTTP: filters and keyset pages, ids by prefix, logs by offset and tail,
cancel and retry, and who may do what."""

from __future__ import annotations

import time
from typing import Any

import httpx
from httpx_sse import connect_sse

TERMINAL = {"succeeded", "failed", "cancelled"}


def create_pipeline(api: Any, name: str, rows: int = 3) -> dict[str, Any]:
    response = api.operator.post(
        "/api/v1/pipelines",
        json={
            "name": name,
            "extractor": "tap-flx-sample",
            "loader": "target-flx-jsonl",
            "config": {"tap-flx-sample": {"rows": rows}},
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def start_run(api: Any, pipeline: str) -> dict[str, Any]:
    response = api.operator.post(f"/api/v1/pipelines/{pipeline}/run")
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_status(
    api: Any, execution_id: str, statuses: set[str], seconds: float = 60
) -> dict[str, Any]:
    deadline = time.monotonic() + seconds
    viewer = api.viewer  # one client for every poll (each new one costs an SSL context)
    while True:
        response = viewer.get(f"/api/v1/executions/{execution_id}")
        assert response.status_code == 200, response.text
        execution: dict[str, Any] = response.json()
        if execution["status"] in statuses:
            return execution
        assert time.monotonic() < deadline, f"still {execution['status']} after {seconds} s"
        time.sleep(0.1)


def run_to_end(api: Any, pipeline: str) -> dict[str, Any]:
    return wait_for_status(api, start_run(api, pipeline)["id"], TERMINAL)


def listed(api: Any, **params: Any) -> list[str]:
    response = api.viewer.get("/api/v1/executions", params=params)
    assert response.status_code == 200, response.text
    return [e["id"] for e in response.json()["items"]]


def test_list_filters_runs_and_pages_through_them_newest_first(api: Any) -> None:
    create_pipeline(api, "a")
    b = create_pipeline(api, "b")
    first, second, third = run_to_end(api, "a"), run_to_end(api, "a"), run_to_end(api, "b")
    assert {first["status"], second["status"], third["status"]} == {"succeeded"}
    newest_first = [third["id"], second["id"], first["id"]]

    assert listed(api) == newest_first
    assert listed(api, pipeline="a") == [second["id"], first["id"]]
    assert listed(api, pipeline=b["id"]) == [third["id"]]
    assert listed(api, pipeline="gone") == []
    assert listed(api, status=["failed", "succeeded"]) == newest_first
    assert listed(api, status=["running", "queued"]) == []
    assert listed(api, trigger="api") == newest_first
    assert listed(api, trigger="schedule") == []
    assert listed(api, since=second["created_at"]) == [third["id"], second["id"]]
    assert listed(api, until=second["created_at"]) == [first["id"]]

    seen: list[str] = []
    cursor, viewer = None, api.viewer
    for _ in range(5):
        params: dict[str, Any] = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        page = viewer.get("/api/v1/executions", params=params).json()
        seen += [e["id"] for e in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == newest_first


def test_bad_list_parameters_are_422_with_their_field(sqlite_api: Any) -> None:
    cases = [
        ({"limit": 0}, "query.limit"),
        ({"limit": 501}, "query.limit"),
        ({"status": "sleeping"}, "query.status.0"),
        ({"since": "2026-01-01T00:00:00"}, "query.since"),  # no time zone
    ]
    for params, field in cases:
        response = sqlite_api.viewer.get("/api/v1/executions", params=params)
        assert response.status_code == 422, (params, response.text)
        assert field in {e["field"] for e in response.json()["errors"]}, response.json()
    bad_cursor = sqlite_api.viewer.get("/api/v1/executions", params={"cursor": "not a cursor"})
    assert bad_cursor.status_code == 422
    assert bad_cursor.json()["code"] == "invalid"


def test_an_execution_is_found_by_a_unique_prefix_and_an_unknown_one_is_404(
    sqlite_api: Any,
) -> None:
    create_pipeline(sqlite_api, "p")
    execution = run_to_end(sqlite_api, "p")
    shown = sqlite_api.viewer.get(f"/api/v1/executions/{execution['id'][:8]}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["id"] == execution["id"]
    assert shown.json()["pipeline_name"] == "p"
    for unknown in ("0" * 32, "abc"):
        missing = sqlite_api.viewer.get(f"/api/v1/executions/{unknown}")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert missing.json()["code"] == "not_found"
    for path in ("logs", "logs/stream"):
        response = sqlite_api.viewer.get(f"/api/v1/executions/{'0' * 32}/{path}")
        assert response.status_code == 404
        assert response.json()["code"] == "not_found"


def test_the_log_is_read_by_offset_to_its_size_or_by_its_last_lines(sqlite_api: Any) -> None:
    create_pipeline(sqlite_api, "p")
    execution = run_to_end(sqlite_api, "p")
    url = f"/api/v1/executions/{execution['id']}/logs"
    whole = sqlite_api.viewer.get(url).json()
    text = whole["chunk"]["data"]
    assert whole["execution"]["status"] == "succeeded"
    assert whole["size"] == len(text.encode()) == whole["chunk"]["next_offset"]
    assert "run succeeded" in text

    pieces, offset, viewer = [], 0, sqlite_api.viewer
    for _ in range(1000):
        answer = viewer.get(url, params={"offset": offset, "limit": 50}).json()
        assert answer["chunk"]["offset"] == offset
        pieces.append(answer["chunk"]["data"])
        offset = answer["chunk"]["next_offset"]
        if offset >= answer["size"]:
            break
    assert len(pieces) > 1
    assert "".join(pieces) == text

    tail = sqlite_api.viewer.get(url, params={"tail": 2}).json()
    assert tail["chunk"]["data"] == "".join(text.splitlines(keepends=True)[-2:])
    assert tail["chunk"]["next_offset"] == whole["size"]


def test_a_viewer_reads_runs_but_may_not_cancel_or_retry_them(sqlite_api: Any) -> None:
    create_pipeline(sqlite_api, "p")
    execution = run_to_end(sqlite_api, "p")
    for path in ("", "/logs"):
        assert sqlite_api.viewer.get(f"/api/v1/executions/{execution['id']}{path}").is_success
    for action in ("cancel", "retry"):
        refused = sqlite_api.viewer.post(f"/api/v1/executions/{execution['id']}/{action}")
        assert refused.status_code == 403, refused.text
        assert refused.json()["details"]["permission"] == "pipeline:run"
    assert sqlite_api.anonymous.get("/api/v1/executions").status_code == 401
    # An operator may, but a finished run can neither be cancelled nor retried.
    late = sqlite_api.operator.post(f"/api/v1/executions/{execution['id']}/cancel")
    assert late.status_code == 409
    assert late.json()["code"] == "invalid_transition"
    again = sqlite_api.operator.post(f"/api/v1/executions/{execution['id']}/retry")
    assert again.status_code == 422
    assert "only a failed or cancelled execution" in again.json()["detail"]


def test_a_running_execution_is_cancelled_and_its_retry_runs_as_the_next_attempt(
    api: Any,
) -> None:
    # Millions of rows keep the run busy for minutes: it is cancelled long before that.
    create_pipeline(api, "long", rows=20_000_000)
    started = start_run(api, "long")
    wait_for_status(api, started["id"], {"running"} | TERMINAL)

    cancel = api.operator.post(f"/api/v1/executions/{started['id'][:10]}/cancel")
    assert cancel.status_code == 202, cancel.text
    assert cancel.json()["id"] == started["id"]
    assert cancel.json()["cancel_requested"] or cancel.json()["status"] == "cancelled"
    # Its live log ends with the cancelled execution (read here with httpx-sse).
    streamed, ended = [], None
    deadline = time.monotonic() + 60
    with connect_sse(
        api.viewer,
        "GET",
        f"/api/v1/executions/{started['id']}/logs/stream",
        timeout=httpx.Timeout(10, read=20),
    ) as source:
        for sse in source.iter_sse():
            assert time.monotonic() < deadline, "the log stream did not end in time"
            if sse.event == "log":
                streamed.append(sse.data)
            elif sse.event == "end":
                ended = sse.json()
                break
    assert ended is not None and ended["status"] == "cancelled"
    assert wait_for_status(api, started["id"], TERMINAL)["status"] == "cancelled"
    log = api.viewer.get(f"/api/v1/executions/{started['id']}/logs").json()
    assert "".join(streamed) == log["chunk"]["data"]

    changed = api.operator.patch(
        "/api/v1/pipelines/long", json={"config": {"tap-flx-sample": {"rows": 3}}}
    )
    assert changed.status_code == 200, changed.text
    retry = api.operator.post(f"/api/v1/executions/{started['id']}/retry")
    assert retry.status_code == 202, retry.text
    attempt = retry.json()
    assert retry.headers["location"] == f"/api/v1/executions/{attempt['id']}"
    assert (attempt["attempt"], attempt["retry_of"], attempt["trigger"]) == (
        2,
        started["id"],
        "retry",
    )
    assert wait_for_status(api, attempt["id"], TERMINAL)["status"] == "succeeded"
    assert listed(api, retry_of=started["id"]) == [attempt["id"]]

"""Schedules over HTTP: pipelines with a cron schedule and their next fire times."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

PIPELINE = {"extractor": "tap-flx-sample", "loader": "target-flx-jsonl"}


def create(api: Any, **fields: Any) -> None:
    response = api.operator.post("/api/v1/pipelines", json={**PIPELINE, **fields})
    assert response.status_code == 201, response.text


def test_schedules_list_the_next_fire_times_of_scheduled_pipelines(api: Any) -> None:
    create(api, name="hourly", schedule="0 * * * *")
    create(api, name="paused", schedule="30 2 * * *", enabled=False)
    create(api, name="by-hand")
    before = datetime.now(UTC)
    response = api.viewer.get("/api/v1/schedules", params={"count": 2})
    assert response.status_code == 200, response.text
    schedules = {s["pipeline"]: s for s in response.json()}
    assert set(schedules) == {"hourly", "paused"}
    hourly = schedules["hourly"]
    assert (hourly["schedule"], hourly["enabled"], hourly["timezone"]) == ("0 * * * *", True, "UTC")
    fires = [datetime.fromisoformat(t) for t in hourly["next_fires"]]
    assert len(fires) == 2
    assert before < fires[0] < fires[1]
    assert all(t.minute == 0 and t.second == 0 for t in fires)
    assert (fires[1] - fires[0]).total_seconds() == 3600
    assert hourly["last_fire"] is None
    assert schedules["paused"]["next_fires"] == []


def test_the_count_is_bounded_and_reading_needs_a_token(sqlite_api: Any) -> None:
    create(sqlite_api, name="hourly", schedule="0 * * * *")
    default = sqlite_api.viewer.get("/api/v1/schedules").json()
    assert len(default[0]["next_fires"]) == 3
    assert sqlite_api.viewer.get("/api/v1/schedules", params={"count": 101}).status_code == 422
    assert sqlite_api.anonymous.get("/api/v1/schedules").status_code == 401

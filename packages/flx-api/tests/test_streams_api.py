"""Live streams over HTTP (Server-Sent Events): an execution's log to its end, resumed
after Last-Event-ID; the domain events, filtered by what the caller may read, in position
order even when a transaction commits an earlier position late; a stream whose token is
revoked ends."""

from __future__ import annotations

import json
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

import flx_api.routes.streams as streams
import flx_core.application.executions as event_feed
from flx_core.infrastructure.persistence import tables

TERMINAL = {"succeeded", "failed", "cancelled"}
#: Waits for the next bytes of a stream; a test's own deadline bounds the whole.
STREAM_TIMEOUT = httpx.Timeout(10, read=20)


@dataclass
class Sse:
    event: str
    data: str
    id: str | None


def parse_sse(lines: Iterator[str], deadline: float) -> Iterator[Sse]:
    """Events of a text/event-stream, as EventSource reads them: ``data:`` lines joined
    with a line feed, comments (keep-alive) skipped, the last ``id:`` remembered."""
    event, last_id = "message", None
    data: list[str] = []
    for line in lines:
        assert time.monotonic() < deadline, "the stream did not deliver in time"
        if not line:
            if data:
                yield Sse(event, "\n".join(data), last_id)
            event, data = "message", []
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            last_id = value


def follow(
    client: httpx.Client,
    path: str,
    *,
    until: Any = None,
    seconds: float = 60,
    **options: Any,
) -> list[Sse]:
    """The events of a stream until it closes, or until ``until(event)`` holds."""
    deadline = time.monotonic() + seconds
    seen: list[Sse] = []
    with client.stream("GET", path, timeout=STREAM_TIMEOUT, **options) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        for event in parse_sse(response.iter_lines(), deadline):
            seen.append(event)
            if until is not None and until(event):
                return seen
    assert until is None, "the stream closed before the awaited event"
    return seen


def create_pipeline(api: Any, name: str, extractor: str = "tap-flx-sample", **tap: Any) -> Any:
    response = api.operator.post(
        "/api/v1/pipelines",
        json={
            "name": name,
            "extractor": extractor,
            "loader": "target-flx-jsonl",
            "config": {extractor: tap} if tap else {},
        },
    )
    assert response.status_code == 201, response.text
    return response.json()


def start_run(api: Any, pipeline: str) -> dict[str, Any]:
    response = api.operator.post(f"/api/v1/pipelines/{pipeline}/run")
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    return body


def log_text(events: list[Sse]) -> str:
    return "".join(e.data for e in events if e.event == "log")


# -- the log stream ----------------------------------------------------------------------
def test_the_log_stream_follows_a_run_to_its_end_and_resumes_after_last_event_id(
    api: Any,
) -> None:
    create_pipeline(api, "p", rows=50_000)
    execution = start_run(api, "p")
    path = f"/api/v1/executions/{execution['id']}/logs/stream"
    events = follow(api.viewer, path)

    assert events[-1].event == "end"
    finished = json.loads(events[-1].data)
    assert (finished["id"], finished["status"]) == (execution["id"], "succeeded")
    logs = [e for e in events if e.event == "log"]
    assert [e.event for e in events[:-1]] == ["log"] * len(logs)
    whole = api.viewer.get(f"/api/v1/executions/{execution['id']}/logs").json()
    text = whole["chunk"]["data"]
    assert "run succeeded" in text
    assert log_text(events) == text
    # Each id is the byte offset after its event's text.
    ends = [int(e.id or -1) for e in logs]
    assert ends == [len(log_text(events[: i + 1]).encode()) for i in range(len(logs))]
    assert ends[-1] == whole["size"]

    first_line = len(text.splitlines(keepends=True)[0].encode())
    for resumed_at in {first_line, ends[0]}:
        again = follow(api.viewer, path, headers={"Last-Event-ID": str(resumed_at)})
        assert log_text(again) == text.encode()[resumed_at:].decode()
        assert again[-1].event == "end"
    # ?offset= starts there too; a reconnect's Last-Event-ID wins over it.
    assert log_text(follow(api.viewer, f"{path}?offset={first_line}")) == (
        text.encode()[first_line:].decode()
    )
    both = follow(api.viewer, f"{path}?offset=0", headers={"Last-Event-ID": str(ends[-1])})
    assert [e.event for e in both] == ["end"]


def add_chatty_tap(api: Any, tmp_path: Path) -> None:
    """A tap that writes lines of 4-byte characters on stderr, then one record."""
    script = tmp_path / "tap-chatty"
    script.write_text(
        f"#!{sys.executable}\n"
        "import json, sys\n"
        "for i in range(3):\n"
        "    print(f'{i} h\\u00e9 \\u2713 ' + '\\U0001f600' * 12, file=sys.stderr)\n"
        "schema = {'type': 'object', 'properties': {'id': {'type': 'integer'}}}\n"
        "print(json.dumps({'type': 'SCHEMA', 'stream': 's', 'schema': schema,\n"
        "                  'key_properties': ['id']}))\n"
        "print(json.dumps({'type': 'RECORD', 'stream': 's', 'record': {'id': 1}}))\n",
        encoding="utf-8",
    )
    script.chmod(0o755)
    response = api.admin.post(
        "/api/v1/plugins",
        json={"plugin_type": "extractor", "name": "tap-chatty", "executable": str(script)},
    )
    assert response.status_code == 201, response.text


def test_log_text_cut_inside_a_character_arrives_whole(
    sqlite_api: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_chatty_tap(sqlite_api, tmp_path)
    create_pipeline(sqlite_api, "chatty", extractor="tap-chatty")
    execution = start_run(sqlite_api, "chatty")
    path = f"/api/v1/executions/{execution['id']}/logs"
    viewer = sqlite_api.viewer  # one client (each new one costs an SSL context)
    finished = follow(viewer, f"{path}/stream")
    assert json.loads(finished[-1].data)["status"] == "succeeded"
    text = viewer.get(path).json()["chunk"]["data"]
    assert log_text(finished) == text
    assert "2 h\u00e9 \u2713 " + "\U0001f600" * 12 + "\n" in text

    # From the first line of the tap on, in pieces of 7 bytes: most cut a character.
    start = text.encode().index(b"tap-chatty |")
    rest = text.encode()[start:].decode()
    monkeypatch.setattr(streams, "LOG_EVENT_BYTES", 7)
    events = follow(viewer, f"{path}/stream", headers={"Last-Event-ID": str(start)})
    logs = [e for e in events if e.event == "log"]
    assert len(logs) > 10
    assert log_text(logs) == rest
    assert [int(e.id or -1) for e in logs] == [
        start + len(log_text(logs[: i + 1]).encode()) for i in range(len(logs))
    ]
    pieces, offset = [], start
    for _ in range(1000):
        answer = viewer.get(path, params={"offset": offset, "limit": 7}).json()
        pieces.append(answer["chunk"]["data"])
        offset = answer["chunk"]["next_offset"]
        if offset >= answer["size"]:
            break
    assert "".join(pieces) == rest


def test_streams_need_a_token_and_a_numeric_last_event_id(sqlite_api: Any) -> None:
    create_pipeline(sqlite_api, "p", rows=3)
    execution = start_run(sqlite_api, "p")
    for path in ("/api/v1/events/stream", f"/api/v1/executions/{execution['id']}/logs/stream"):
        assert sqlite_api.anonymous.get(path).status_code == 401
        bad = sqlite_api.viewer.get(path, headers={"Last-Event-ID": "yesterday"})
        assert bad.status_code == 422
        assert bad.json()["errors"][0]["field"] == "header.last-event-id"


# -- the event stream --------------------------------------------------------------------
def event_of(event_type: str, aggregate_id: str) -> Any:
    return lambda e: e.event == event_type and json.loads(e.data)["aggregate_id"] == aggregate_id


def test_the_event_stream_shows_a_run_to_an_operator_as_it_happens(api: Any) -> None:
    created = create_pipeline(api, "p", rows=3)
    deadline = time.monotonic() + 60
    with api.operator.stream("GET", "/api/v1/events/stream", timeout=STREAM_TIMEOUT) as response:
        events = parse_sse(response.iter_lines(), deadline)
        ready = next(events)  # it follows from now on: the pipeline's creation is past
        assert ready.event == "ready"
        assert int(ready.id or -1) == json.loads(ready.data)["position"]
        execution = start_run(api, "p")
        seen = []
        for event in events:
            seen.append(event)
            if event_of("ExecutionSucceeded", execution["id"])(event):
                break
    assert created["id"] not in {json.loads(e.data)["aggregate_id"] for e in seen}
    mine = [e for e in seen if json.loads(e.data)["aggregate_id"] == execution["id"]]
    assert [e.event for e in mine] == ["ExecutionQueued", "ExecutionStarted", "ExecutionSucceeded"]
    positions = [int(ready.id or -1)] + [int(e.id or -1) for e in seen]
    assert positions == sorted(set(positions))
    stored = json.loads(mine[-1].data)
    assert stored["position"] == int(mine[-1].id or -1)
    assert stored["event_type"] == "ExecutionSucceeded"
    assert stored["payload"]["records"] == 9
    assert json.loads(mine[0].data)["actor"] == "operator@example.com"


def test_a_viewer_sees_pipeline_events_but_not_user_and_login_events(sqlite_api: Any) -> None:
    marker = create_pipeline(sqlite_api, "marker", rows=1)
    until_marker = event_of("PipelineCreated", marker["id"])
    hidden_prefixes = ("User", "Login", "LoggedOut", "Session")

    viewed = follow(sqlite_api.viewer, "/api/v1/events/stream?after=0", until=until_marker)
    assert not [e.event for e in viewed if e.event.startswith(hidden_prefixes)]
    operated = follow(sqlite_api.operator, "/api/v1/events/stream?after=0", until=until_marker)
    types = {e.event for e in operated}
    assert {"UserCreated", "LoginSucceeded", "PipelineCreated"} <= types
    assert len(operated) > len(viewed)


def test_the_event_stream_resumes_after_last_event_id(sqlite_api: Any) -> None:
    marker = create_pipeline(sqlite_api, "marker", rows=1)
    trail = sqlite_api.admin.get("/api/v1/events", params={"limit": 500}).json()["items"]
    positions = [e["position"] for e in trail]
    assert len(positions) > 3
    resume = positions[2]
    events = follow(
        sqlite_api.admin,
        "/api/v1/events/stream?after=0",
        headers={"Last-Event-ID": str(resume)},
        until=event_of("PipelineCreated", marker["id"]),
    )
    assert (events[0].event, events[0].id, json.loads(events[0].data)) == (
        "ready",
        str(resume),
        {"position": resume},
    )
    assert [int(e.id or -1) for e in events[1:]] == [p for p in positions if p > resume]


@contextmanager
def database(database_url: str) -> Iterator[sa.Connection]:
    """A transaction on the server's database, beside the server."""
    engine = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with engine.begin() as conn:
            yield conn
    finally:
        engine.dispose()


def allocate_positions(database_url: str, count: int) -> list[int]:
    """Positions as the database hands them to transactions (on SQLite, the next ones)."""
    with database(database_url) as conn:
        if conn.dialect.name == "postgresql":
            sequence = "pg_get_serial_sequence('events', 'position')"
            take = sa.text(f"SELECT nextval({sequence})")
            return [conn.execute(take).scalar_one() for _ in range(count)]
        top = conn.execute(sa.select(sa.func.max(tables.events.c.position))).scalar() or 0
        return [top + n for n in range(1, count + 1)]


def commit_events(database_url: str, positions: list[int]) -> None:
    """Events at these positions, as a transaction that took them commits them."""
    rows = [
        {
            "position": position,
            "event_id": str(uuid.uuid4()),
            "event_type": "PipelineCreated",
            "aggregate_id": f"late-{position}",
            "actor": "test",
            "occurred_at": datetime.now(UTC),
            "payload": {"name": f"late-{position}"},
        }
        for position in positions
    ]
    with database(database_url) as conn:
        conn.execute(sa.insert(tables.events), rows)


def test_an_event_committed_late_with_an_earlier_position_is_not_passed_over(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_feed, "MISSING_GRACE_SECONDS", 300.0)
    url = api.settings.database_url
    first, late, last = allocate_positions(url, 3)
    commit_events(url, [first, last])  # `late`'s transaction has not committed yet
    deadline = time.monotonic() + 60
    with api.operator.stream(
        "GET",
        "/api/v1/events/stream",
        headers={"Last-Event-ID": str(first - 1)},
        timeout=STREAM_TIMEOUT,
    ) as response:
        events = parse_sse(response.iter_lines(), deadline)
        assert next(events).event == "ready"
        assert int(next(events).id or -1) == first
        commit_events(url, [late])
        assert [int(next(events).id or -1) for _ in range(2)] == [late, last]


def test_a_position_whose_transaction_rolled_back_is_given_up(
    sqlite_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(event_feed, "MISSING_GRACE_SECONDS", 0.5)
    url = sqlite_api.settings.database_url
    first, _never, last = allocate_positions(url, 3)
    commit_events(url, [first, last])
    events = follow(
        sqlite_api.operator,
        "/api/v1/events/stream",
        headers={"Last-Event-ID": str(first - 1)},
        until=lambda e: int(e.id or -1) >= last,
    )
    assert [(e.event, int(e.id or -1)) for e in events] == [
        ("ready", first - 1),
        ("PipelineCreated", first),
        ("PipelineCreated", last),
    ]


def test_an_event_stream_ends_when_its_token_is_revoked(
    sqlite_api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streams, "RECHECK_SECONDS", 0.0)
    viewer = sqlite_api.viewer
    deadline = time.monotonic() + 60
    with viewer.stream("GET", "/api/v1/events/stream", timeout=STREAM_TIMEOUT) as response:
        events = parse_sse(response.iter_lines(), deadline)
        assert next(events).event == "ready"
        assert viewer.post("/api/v1/auth/logout").status_code == 204
        rest = list(events)
    assert [e.event for e in rest] == ["problem"]
    problem = json.loads(rest[0].data)
    assert (problem["status"], problem["code"]) == (401, "unauthenticated")

"""The built-in connectors as real processes: discovery, selection, incremental, upsert."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from flx_meltano.catalog import apply_selection
from flx_meltano.connectors.target_sqlite import Table

BIN = Path(sys.executable).parent


def run(
    cmd: str, *args: str, stdin: bytes = b"", check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    result = subprocess.run(
        [str(BIN / cmd), *args], input=stdin, capture_output=True, timeout=120, check=False
    )
    if check and result.returncode != 0:
        raise AssertionError(result.stderr.decode())
    return result


def write(path: Path, data: Any) -> str:
    path.write_text(json.dumps(data))
    return str(path)


def lines(output: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def tap(
    tmp_path: Path,
    config: dict[str, Any],
    catalog: dict[str, Any] | None = None,
    state: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    args = ["--config", write(tmp_path / "tap.json", config)]
    if catalog is not None:
        args += ["--catalog", write(tmp_path / "catalog.json", catalog)]
    if state is not None:
        args += ["--state", write(tmp_path / "state.json", state)]
    return lines(run("tap-flx-sample", *args).stdout)


def test_discovery_describes_streams_keys_and_replication(tmp_path: Path) -> None:
    catalog = json.loads(run("tap-flx-sample", "--discover").stdout)
    names = [s["stream"] for s in catalog["streams"]]
    assert names == ["users", "orders", "events"]
    users = catalog["streams"][0]
    top = next(m["metadata"] for m in users["metadata"] if m["breadcrumb"] == [])
    assert top["table-key-properties"] == ["id"]
    assert top["valid-replication-keys"] == ["updated_at"]


def test_selection_limits_streams_and_properties(tmp_path: Path) -> None:
    catalog = json.loads(run("tap-flx-sample", "--discover").stdout)
    selected = apply_selection(catalog, ["users.*", "!users.email"])
    out = tap(tmp_path, {"rows": 5}, catalog=selected)
    records = [m for m in out if m["type"] == "RECORD"]
    assert {m["stream"] for m in records} == {"users"} and len(records) == 5
    assert all("email" not in m["record"] and "id" in m["record"] for m in records)


def test_incremental_bookmark(tmp_path: Path) -> None:
    first = tap(tmp_path, {"rows": 20, "streams": ["orders"], "batch_size": 7})
    states = [m["value"] for m in first if m["type"] == "STATE"]
    assert len(states) >= 3
    final = states[-1]
    again = tap(tmp_path, {"rows": 20, "streams": ["orders"]}, state=final)
    assert [m for m in again if m["type"] == "RECORD"] == []
    grown = tap(tmp_path, {"rows": 26, "streams": ["orders"]}, state=final)
    ids = [m["record"]["id"] for m in grown if m["type"] == "RECORD"]
    assert ids == list(range(20, 26))


def test_rows_are_deterministic(tmp_path: Path) -> None:
    a = tap(tmp_path, {"rows": 3, "seed": 9})
    b = tap(tmp_path, {"rows": 3, "seed": 9})
    c = tap(tmp_path, {"rows": 3, "seed": 10})
    assert a == b and a != c


def sqlite_target(
    tmp_path: Path, stdin: bytes, check: bool = True
) -> subprocess.CompletedProcess[bytes]:
    config = write(tmp_path / "t.json", {"database": str(tmp_path / "out.db"), "batch_size": 3})
    return run("target-flx-sqlite", "--config", config, stdin=stdin, check=check)


def messages(*items: dict[str, Any]) -> bytes:
    return b"".join(json.dumps(m).encode() + b"\n" for m in items)


SCHEMA = {
    "type": "SCHEMA",
    "stream": "users",
    "key_properties": ["id"],
    "schema": {"properties": {"id": {"type": "integer"}, "name": {"type": "string"}}},
}


def rec(i: int, **extra: Any) -> dict[str, Any]:
    return {"type": "RECORD", "stream": "users", "record": {"id": i, "name": f"n{i}", **extra}}


def test_sqlite_upserts_exactly_once_and_grows_columns(tmp_path: Path) -> None:
    batch = messages(SCHEMA, *(rec(i) for i in range(5)), {"type": "STATE", "value": {"p": 5}})
    sqlite_target(tmp_path, batch)
    out = sqlite_target(tmp_path, batch)
    assert lines(out.stdout)[-1] == {"p": 5}
    grown = {
        **SCHEMA,
        "schema": {
            "properties": {**SCHEMA["schema"]["properties"], "tags": {"type": ["array", "null"]}}
        },
    }
    sqlite_target(tmp_path, messages(grown, rec(2, tags=["a"]), rec(9, tags=[])))
    db = sqlite3.connect(tmp_path / "out.db")
    assert db.execute("SELECT count(*), count(DISTINCT id) FROM users").fetchone() == (6, 6)
    assert db.execute("SELECT name, tags FROM users WHERE id = 2").fetchone() == ("n2", '["a"]')


def test_state_comes_only_after_its_records_are_committed(tmp_path: Path) -> None:
    stream = messages(
        SCHEMA,
        rec(1),
        rec(2),
        {"type": "STATE", "value": {"p": 2}},
        rec(3),
        {"type": "STATE", "value": {"p": 3}},
    )
    proc = subprocess.Popen(
        [
            str(BIN / "target-flx-sqlite"),
            "--config",
            write(tmp_path / "t.json", {"database": str(tmp_path / "o.db")}),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    head, tail = stream.split(b'{"type": "STATE", "value": {"p": 2}}\n')
    proc.stdin.write(head + b'{"type": "STATE", "value": {"p": 2}}\n')
    proc.stdin.flush()
    first = json.loads(proc.stdout.readline())
    # The state arrived: the two records before it must already be readable by others.
    count = sqlite3.connect(tmp_path / "o.db").execute("SELECT count(*) FROM users").fetchone()
    assert first == {"p": 2} and count == (2,)
    proc.stdin.write(tail)
    proc.stdin.close()
    assert json.loads(proc.stdout.readline()) == {"p": 3}
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0


@pytest.mark.parametrize("target", ["target-flx-sqlite", "target-flx-jsonl"])
@pytest.mark.parametrize(
    ("payload", "needle"),
    [
        (messages(SCHEMA, rec(1)) + b"not json\n", "line 3 is not valid JSON"),
        (messages(SCHEMA) + b'{"type": "RECORD", "stream": "users", "rec', "line 2 is truncated"),
        (messages(rec(1)), "RECORD for stream 'users' before its SCHEMA"),
    ],
)
def test_bad_input_names_the_line_and_emits_no_state(
    tmp_path: Path, target: str, payload: bytes, needle: str
) -> None:
    config = write(
        tmp_path / "c.json",
        {"database": str(tmp_path / "x.db"), "destination_path": str(tmp_path / "out")},
    )
    if "truncated" not in needle:  # a truncated line can only be the last one
        payload += messages({"type": "STATE", "value": {"p": 1}})
    result = run(target, "--config", config, stdin=payload, check=False)
    assert result.returncode == 2
    assert needle in result.stderr.decode()
    assert "Traceback" not in result.stderr.decode()
    assert result.stdout == b""


def test_missing_required_config_is_named(tmp_path: Path) -> None:
    result = run("target-flx-sqlite", "--config", write(tmp_path / "c.json", {}), check=False)
    assert result.returncode == 2
    assert "missing the required setting 'database'" in result.stderr.decode()


def test_jsonl_target_writes_one_file_per_stream_and_a_huge_line(tmp_path: Path) -> None:
    big = "x" * (20 * 1024 * 1024)
    payload = messages(
        SCHEMA,
        rec(1, blob=big),
        rec(2),
        {**SCHEMA, "stream": "other"},
        {"type": "RECORD", "stream": "other", "record": {"id": 7}},
        {"type": "STATE", "value": {"done": True}},
    )
    out = run(
        "target-flx-jsonl",
        "--config",
        write(tmp_path / "c.json", {"destination_path": str(tmp_path / "out")}),
        stdin=payload,
    )
    assert lines(out.stdout) == [{"done": True}]
    users = (tmp_path / "out" / "users.jsonl").read_text().splitlines()
    assert len(users) == 2 and len(json.loads(users[0])["blob"]) == len(big)
    assert (tmp_path / "out" / "other.jsonl").read_text() == '{"id":7}\n'


def sqlite_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return db.execute(sql).fetchall()
    finally:
        db.close()


def test_sqlite_upserts_in_input_order_within_one_large_transaction(tmp_path: Path) -> None:
    # 230 rows in one transaction: groups of many rows per statement plus a remainder, with
    # each key repeated within and across groups, and keys 30-49 last seen before the
    # remainder; the last value of each key must win.
    records = [rec(i % 50, n=f"v{i}") for i in range(230)]
    config = write(tmp_path / "t.json", {"database": str(tmp_path / "out.db"), "batch_size": 10**6})
    schema = {
        **SCHEMA,
        "schema": {"properties": {**SCHEMA["schema"]["properties"], "n": {"type": "string"}}},
    }
    run("target-flx-sqlite", "--config", config, stdin=messages(schema, *records))
    got = dict(sqlite_rows(tmp_path / "out.db", "SELECT id, n FROM users"))
    assert got == {i % 50: f"v{i}" for i in range(230)}


def test_sqlite_keeps_to_the_bound_parameter_limit_for_wide_tables() -> None:
    # 400 columns by 120 rows under a limit of 999 values per statement, as older SQLite
    # builds have: rows per statement must shrink to fit.
    db = sqlite3.connect(":memory:", isolation_level=None)
    db.setlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER, 999)
    columns = [f"c{i}" for i in range(400)]
    schema = {"properties": {c: {"type": "integer"} for c in columns}}
    table = Table(db, "wide", schema, ["c0"])
    table.add_many([{c: row * 1000 + i for i, c in enumerate(columns)} for row in range(120)])
    table.flush()
    rows = db.execute("SELECT * FROM wide ORDER BY c0").fetchall()
    assert [row[399] for row in rows] == [row * 1000 + 399 for row in range(120)]
    assert all(len(row) == 400 for row in rows)


def test_sqlite_fills_missing_values_and_stores_objects_as_json(tmp_path: Path) -> None:
    schema = {
        **SCHEMA,
        "schema": {
            "properties": {
                **SCHEMA["schema"]["properties"],
                "meta": {"type": ["object", "null"]},
                "ok": {"type": "boolean"},
            }
        },
    }
    payload = messages(
        schema,
        {"type": "RECORD", "stream": "users", "record": {"id": 1, "meta": {"é": [1.5, None]}}},
        {"type": "RECORD", "stream": "users", "record": {"id": 2, "name": "b", "ok": True}},
    )
    sqlite_target(tmp_path, payload)
    rows = sqlite_rows(tmp_path / "out.db", "SELECT id, name, meta, ok FROM users ORDER BY id")
    assert rows == [(1, None, '{"é":[1.5,null]}', None), (2, "b", None, 1)]


def test_sqlite_stores_a_record_longer_than_many_reads(tmp_path: Path) -> None:
    big = "y" * (5 * 1024 * 1024 + 7)
    sqlite_target(tmp_path, messages(SCHEMA, rec(1), rec(2, name=big), rec(3)))
    rows = sqlite_rows(tmp_path / "out.db", "SELECT id, length(name) FROM users ORDER BY id")
    assert rows == [(1, 2), (2, len(big)), (3, 2)]


@pytest.mark.parametrize("target", ["target-flx-sqlite", "target-flx-jsonl"])
def test_errors_name_the_exact_line_past_blank_lines(tmp_path: Path, target: str) -> None:
    config = write(
        tmp_path / "c.json",
        {"database": str(tmp_path / "x.db"), "destination_path": str(tmp_path / "out")},
    )
    payload = b"\n" + messages({"type": "STATE", "value": 1}) + b"\n   \n" + messages(rec(1))
    result = run(target, "--config", config, stdin=payload, check=False)
    assert result.returncode == 2
    assert "line 5: RECORD for stream 'users' before its SCHEMA" in result.stderr.decode()


def test_jsonl_lines_are_the_records_compact_json_in_input_order(tmp_path: Path) -> None:
    other = {"type": "RECORD", "stream": "other", "record": {"x": 0.1 + 0.2, "s": "ünï\u2028"}}
    records = [rec(1, f=1e-7, big=2**62), other, rec(2, nested={"a": [True, None]}), rec(3)]
    payload = messages(SCHEMA, {**SCHEMA, "stream": "other"}, *records)
    run(
        "target-flx-jsonl",
        "--config",
        write(tmp_path / "c.json", {"destination_path": str(tmp_path / "out")}),
        stdin=payload,
    )
    users = (tmp_path / "out" / "users.jsonl").read_bytes()
    expected = [m["record"] for m in records if m["stream"] == "users"]
    assert users == b"".join(orjson.dumps(r) + b"\n" for r in expected)
    assert (tmp_path / "out" / "other.jsonl").read_bytes() == orjson.dumps(other["record"]) + b"\n"


def test_jsonl_state_comes_only_after_its_records_are_in_the_file(tmp_path: Path) -> None:
    config = write(tmp_path / "c.json", {"destination_path": str(tmp_path / "out")})
    proc = subprocess.Popen(
        [str(BIN / "target-flx-jsonl"), "--config", config],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    proc.stdin.write(messages(SCHEMA, rec(1), rec(2), {"type": "STATE", "value": {"p": 2}}))
    proc.stdin.flush()
    assert json.loads(proc.stdout.readline()) == {"p": 2}
    # The target is still running: what it reported must already be readable by others.
    lines_now = (tmp_path / "out" / "users.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines_now] == [1, 2]
    proc.stdin.close()
    proc.stdout.close()
    assert proc.wait(timeout=30) == 0


def _messages(*items: dict[str, Any]) -> bytes:
    return "".join(json.dumps(m) + "\n" for m in items).encode()


def test_sqlite_stores_objects_in_any_column_and_big_integers_as_text(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    config = write(tmp_path / "t.json", {"database": str(db)})
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "integer"}, "v": {"type": "string"}}},
    }
    records = [
        {"type": "RECORD", "stream": "s", "record": {"id": 1, "v": {"nested": [1, 2]}}},
        {"type": "RECORD", "stream": "s", "record": {"id": 2, "v": ["a"]}},
        # Above SQLite's 64-bit INTEGER, within what a JSON parser returns as an integer.
        {"type": "RECORD", "stream": "s", "record": {"id": 3, "v": 2**63 + 5}},
        {"type": "RECORD", "stream": "s", "record": {"id": 4, "v": "plain"}},
    ]
    result = run(
        "target-flx-sqlite",
        "--config",
        config,
        stdin=_messages(schema, *records, {"type": "STATE", "value": {"at": 4}}),
    )
    assert lines(result.stdout) == [{"at": 4}]
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT id, v FROM s ORDER BY id").fetchall()
    assert rows == [
        (1, '{"nested":[1,2]}'),
        (2, '["a"]'),
        (3, str(2**63 + 5)),
        (4, "plain"),
    ]


def test_sqlite_keyless_rows_are_not_doubled_when_a_flush_is_redone(tmp_path: Path) -> None:
    db = tmp_path / "out.db"
    config = write(tmp_path / "t.json", {"database": str(db)})
    schema = {
        "type": "SCHEMA",
        "stream": "log",
        "key_properties": [],
        "schema": {"properties": {"n": {"type": "integer"}}},
    }
    # 250 rows: the many-row statements run first; the big integer comes last.
    records = [{"type": "RECORD", "stream": "log", "record": {"n": i}} for i in range(249)]
    records.append({"type": "RECORD", "stream": "log", "record": {"n": 2**64 - 1}})
    run("target-flx-sqlite", "--config", config, stdin=_messages(schema, *records))
    with sqlite3.connect(db) as conn:
        count = conn.execute("SELECT count(*) FROM log").fetchone()[0]
        big = conn.execute("SELECT n, typeof(n) FROM log WHERE n > 1000").fetchall()
    assert count == 250
    # An INTEGER column turns the decimal text of a too-large integer into a REAL (SQLite's
    # affinity rules); a TEXT column keeps the digits (the test above).
    assert big == [(float(2**64 - 1), "real")]


@pytest.mark.parametrize("value", ["ten", 0, -5, 2.5, True, [1]])
def test_sqlite_refuses_a_bad_batch_size_by_name(tmp_path: Path, value: Any) -> None:
    config = write(tmp_path / "t.json", {"database": str(tmp_path / "o.db"), "batch_size": value})
    result = run("target-flx-sqlite", "--config", config, check=False)
    assert result.returncode == 2  # a usage error, as for a missing setting
    err = result.stderr.decode()
    assert "setting 'batch_size' must be a positive integer" in err
    assert "Traceback" not in err


def test_sqlite_accepts_batch_size_as_digits(tmp_path: Path) -> None:
    db = tmp_path / "o.db"
    config = write(tmp_path / "t.json", {"database": str(db), "batch_size": "2"})
    schema = {
        "type": "SCHEMA",
        "stream": "s",
        "key_properties": ["id"],
        "schema": {"properties": {"id": {"type": "integer"}}},
    }
    records = [{"type": "RECORD", "stream": "s", "record": {"id": i}} for i in range(5)]
    run("target-flx-sqlite", "--config", config, stdin=_messages(schema, *records))
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM s").fetchone() == (5,)

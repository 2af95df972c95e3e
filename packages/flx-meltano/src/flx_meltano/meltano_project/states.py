"""Meltano's states: from its system database (table ``state``: ``state_id``,
``partial_state``, ``completed_state``, ``updated_at``; SQLite or PostgreSQL) or from the
JSON that ``meltano state get`` prints. Each id's value is its complete state with the
partial one laid over it, as Meltano merges them before a run."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from flx_meltano.meltano_project.model import ProjectError
from flx_meltano.state import merge_states

SINGER = "singer_state"
_QUERY = "SELECT state_id, completed_state, partial_state FROM state"


def _payload(raw: Any) -> dict[str, Any]:
    """The Singer state in a stored value. A target that echoed whole STATE messages
    (``{"type": "STATE", "value": ...}``) left Meltano storing the message: its value is the
    state, as FLX reads a target's output."""
    value = json.loads(raw) if isinstance(raw, (str, bytes)) else (raw or {})
    if not isinstance(value, dict):
        return {}
    inner = value.get(SINGER, value)
    if isinstance(inner, dict) and inner.get("type") == "STATE" and "value" in inner:
        inner = inner["value"]
    return inner if isinstance(inner, dict) else {}


def _merged(rows: list[tuple[Any, Any, Any]]) -> dict[str, dict[str, Any]]:
    out = {}
    for state_id, completed, partial in rows:
        value = merge_states(_payload(completed), _payload(partial))
        if value:
            out[str(state_id)] = value
    return out


def read_states(source: str) -> dict[str, dict[str, Any]]:
    """State id -> merged Singer state, from a system database URI or file, or a JSON file."""
    if source.startswith(("postgresql://", "postgres://")):
        return _from_postgres(source)
    path = Path(source.removeprefix("sqlite:///"))
    if not path.is_file():
        raise ProjectError(f"{path}: no such state file or Meltano system database")
    if path.read_bytes()[:16] == b"SQLite format 3\x00":
        return _from_sqlite(path)
    return _from_json(path)


def _from_sqlite(path: Path) -> dict[str, dict[str, Any]]:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
            rows = conn.execute(_QUERY).fetchall()
    except sqlite3.Error as exc:
        raise ProjectError(f"{path}: cannot read Meltano's state table: {exc}") from None
    return _merged(rows)


def _from_postgres(uri: str) -> dict[str, dict[str, Any]]:
    import psycopg

    from flx_core.domain.secrets import mask_url_password

    try:
        with psycopg.connect(uri) as conn:
            rows = conn.execute(_QUERY).fetchall()
    except psycopg.Error as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProjectError(f"{mask_url_password(uri)}: {first}") from None
    return _merged([tuple(r) for r in rows])


def _from_json(path: Path) -> dict[str, dict[str, Any]]:
    """``{state_id: {"singer_state": ...}}`` or one ``meltano state get`` output, named by
    the file (``<state id>.json``), or a list of objects with ``state_id`` and the value."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise ProjectError(f"{path}: not valid JSON: {exc}") from None
    if isinstance(data, dict) and SINGER in data:
        return {path.stem: _payload(data)}
    if isinstance(data, list):
        data = {str(d.get("state_id")): d for d in data if isinstance(d, dict)}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: expected an object of state ids")
    out = {}
    for state_id, value in data.items():
        if isinstance(value, dict) and ("completed_state" in value or "partial_state" in value):
            out.update(
                _merged([(state_id, value.get("completed_state"), value.get("partial_state"))])
            )
        elif isinstance(value, dict):
            out[str(state_id)] = _payload(value)
    return out

"""Meltano's schema overrides and select filters on a catalog, and the order a run applies
them in (a catalog file gets the filter only)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from flx_meltano.catalog import (
    CatalogError,
    SchemaOverrideError,
    SelectPatternError,
    apply_schema,
    apply_select_filter,
    list_selection,
    read_catalog_file,
    run_catalog,
)
from flx_meltano.connectors.tap_sample import discover


def stream(catalog: dict[str, Any], sid: str) -> dict[str, Any]:
    return next(s for s in catalog["streams"] if s["tap_stream_id"] == sid)


def selected(catalog: dict[str, Any]) -> list[str]:
    return [s.stream for s in list_selection(catalog) if s.selected]


def test_a_schema_override_replaces_a_property_s_schema_whole() -> None:
    catalog = discover()
    shaped = apply_schema(catalog, {"users": {"score": {"type": ["string", "null"]}}})
    assert stream(shaped, "users")["schema"]["properties"]["score"] == {"type": ["string", "null"]}
    # A copy: the catalog given is left as it was.
    assert stream(catalog, "users")["schema"]["properties"]["score"]["type"] != [
        "string",
        "null",
    ]


def test_a_plain_name_adds_the_property_a_glob_only_reaches_those_there_are() -> None:
    shaped = apply_schema(
        discover(),
        {
            "*": {"updated_*": {"type": "string"}, "note": {"type": "string"}},
            "user?": {"nick*": {"type": "string"}},
        },
    )
    for sid in ("users", "orders", "events"):
        props = stream(shaped, sid)["schema"]["properties"]
        assert props["updated_at"] == {"type": "string"} and props["note"] == {"type": "string"}
        assert "updated_*" not in props
    assert not [p for p in stream(shaped, "users")["schema"]["properties"] if p.startswith("nick")]


def test_later_overrides_have_the_last_word_and_selection_sees_what_they_add() -> None:
    shaped = apply_schema(
        discover(),
        {"*": {"extra": {"type": "string"}}, "orders": {"extra": {"type": "integer"}}},
    )
    assert stream(shaped, "orders")["schema"]["properties"]["extra"] == {"type": "integer"}
    listing = {s.stream: s for s in list_selection(run_catalog(shaped, select=["orders.extra"]))}
    assert [p.path for p in listing["orders"].selected_properties if p.path == "extra"]


def test_a_stream_without_a_schema_gets_one() -> None:
    catalog = {"streams": [{"tap_stream_id": "items", "metadata": []}]}
    shaped = apply_schema(catalog, {"items": {"id": {"type": "integer"}}})
    assert shaped["streams"][0]["schema"] == {
        "type": "object",
        "properties": {"id": {"type": "integer"}},
    }


def test_an_override_that_is_not_a_schema_is_refused() -> None:
    with pytest.raises(SchemaOverrideError, match="must be a JSON schema"):
        apply_schema(discover(), {"users": {"score": "string"}})


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ([], ["users", "orders", "events"]),
        (["users", "ord*"], ["users", "orders"]),
        (["!events"], ["users", "orders"]),
        (["*", "!e*", "!orders"], ["users"]),
        (["users.*"], ["users"]),  # the part after the dot is ignored, as in Meltano
        (["nothing"], []),
    ],
)
def test_a_select_filter_only_ever_deselects_streams(filters: list[str], kept: list[str]) -> None:
    assert selected(apply_select_filter(run_catalog(discover()), filters)) == kept


def test_a_select_filter_leaves_property_selection_and_unselected_streams_alone() -> None:
    chosen = run_catalog(discover(), select=["users.*", "!users.email"])
    filtered = apply_select_filter(chosen, ["users", "orders"])
    assert selected(filtered) == ["users"]  # orders was not selected: the filter adds nothing
    users = {s.stream: s for s in list_selection(filtered)}["users"]
    assert {p.path: p.selected for p in users.properties}["email"] is False


def test_a_select_filter_that_does_not_parse_is_refused() -> None:
    with pytest.raises(SelectPatternError):
        apply_select_filter(discover(), ["users..x"])


def test_a_run_catalog_applies_schema_then_select_then_metadata_then_filter() -> None:
    catalog = run_catalog(
        discover(),
        schema={"users": {"nickname": {"type": "string"}}},
        select=["users.nickname", "events.*"],
        metadata={"users": {"nickname": {"selected": False}}},
        select_filter=["!events"],
    )
    users = {s.stream: s for s in list_selection(catalog)}["users"]
    assert {p.path: p.selected for p in users.properties}["nickname"] is False
    assert selected(catalog) == ["users"]


def test_a_catalog_file_is_used_as_it_is_but_for_the_select_filter(tmp_path: Path) -> None:
    given = run_catalog(discover(), select=["orders.*", "events.*"])
    path = tmp_path / "catalog.json"
    path.write_text(json.dumps(given))
    catalog = run_catalog(
        read_catalog_file(path),
        select=["users.*"],
        schema={"orders": {"amount": {"type": "string"}}},
        select_filter=["!events"],
        provided=True,
    )
    assert selected(catalog) == ["orders"]
    assert stream(catalog, "orders")["schema"]["properties"]["amount"]["type"] != "string"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "does not exist"),
        ("{nope", "is not valid JSON"),
        ('{"streams": 3}', "no list of stream objects"),
    ],
)
def test_a_catalog_file_that_cannot_be_used_says_why(
    tmp_path: Path, content: str | None, message: str
) -> None:
    path = tmp_path / "catalog.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(CatalogError, match=message):
        read_catalog_file(path)

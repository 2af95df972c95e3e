"""The pipeline's Meltano extractor extras: schema overrides, catalog and state files, load
schema and select filter, validated on creation and on update."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from flx_core.domain import Pipeline


def pipeline(**fields: object) -> Pipeline:
    return Pipeline.create(name="p", extractor="tap-a", loader="target-b", **fields)


def test_the_extras_default_to_none_given_and_take_what_is_given() -> None:
    bare = pipeline()
    assert (bare.schema_overrides, bare.catalog_path, bare.state_path) == ({}, None, None)
    assert (bare.load_schema, bare.select_filter) == (None, [])
    full = pipeline(
        schema_overrides={"users": {"score": {"type": ["string", "null"]}}},
        catalog_path="/srv/catalog.json",
        state_path=" /srv/state.json ",
        load_schema=" raw ",
        select_filter=[" users", "!events "],
    )
    assert full.schema_overrides == {"users": {"score": {"type": ["string", "null"]}}}
    assert (full.catalog_path, full.state_path) == ("/srv/catalog.json", "/srv/state.json")
    assert (full.load_schema, full.select_filter) == ("raw", ["users", "!events"])


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"catalog_path": "extract/catalog.json"}, "is not an absolute path"),
        ({"state_path": "state.json"}, "is not an absolute path"),
        ({"schema_overrides": {"users": {"score": "string"}}}, "must be a JSON schema"),
        ({"schema_overrides": {" ": {"score": {}}}}, "empty stream pattern"),
        ({"schema_overrides": {"users": {"": {}}}}, "empty property name"),
        ({"select_filter": ["!"]}, "names no stream"),
        ({"select_filter": ["!!users"]}, "names no stream"),
        ({"load_schema": "x" * 256}, "at most 255 characters"),
    ],
)
def test_a_bad_extra_is_refused_with_the_reason(fields: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        pipeline(**fields)


def test_the_extras_are_updatable_and_an_empty_path_or_schema_removes_them() -> None:
    p = pipeline(catalog_path="/srv/c.json", load_schema="raw")
    changed = p.update(
        catalog_path="",
        load_schema="",
        state_path="/srv/s.json",
        select_filter=["users"],
        schema_overrides={"*": {"id": {"type": "string"}}},
    )
    assert set(changed) == {
        "catalog_path",
        "load_schema",
        "state_path",
        "select_filter",
        "schema_overrides",
    }
    assert (p.catalog_path, p.load_schema, p.state_path) == (None, None, "/srv/s.json")
    with pytest.raises(ValidationError, match="absolute"):
        p.update(state_path="relative.json")
    assert p.state_path == "/srv/s.json"  # a refused update changes nothing

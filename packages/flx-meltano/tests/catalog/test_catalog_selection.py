"""Select rules and metadata overrides on a catalog."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flx_meltano.catalog import (
    SelectPatternError,
    apply_metadata,
    apply_selection,
    describe_selection,
    list_selection,
)

CATALOG: dict[str, Any] = {
    "streams": [
        {
            "tap_stream_id": "users",
            "stream": "users",
            "schema": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "password": {"type": "string"},
                    "address": {
                        "anyOf": [
                            {"type": "object", "properties": {"city": {}, "zip": {}}},
                            {"type": "null"},
                        ]
                    },
                    "internal": {"type": "string"},
                },
            },
            "metadata": [
                {"breadcrumb": [], "metadata": {"table-key-properties": ["id"]}},
                {"breadcrumb": ["properties", "id"], "metadata": {"inclusion": "automatic"}},
                {
                    "breadcrumb": ["properties", "internal"],
                    "metadata": {"inclusion": "unsupported"},
                },
                {"breadcrumb": ["properties", "name"], "metadata": {"selected-by-default": True}},
            ],
        },
        {
            "tap_stream_id": "orders",
            "schema": {"properties": {"id": {}, "total": {}, "user_id": {}}},
            "metadata": [],
        },
        {"stream": "logs", "schema": {"properties": {"id": {}, "message": {}}}},
    ]
}
USERS_ALL = {"id", "name", "password", "address", "address.city", "address.zip"}


def selected(catalog: dict[str, Any]) -> dict[str, set[str]]:
    return {
        s.stream: {p.path for p in s.selected_properties}
        for s in list_selection(catalog)
        if s.selected
    }


@pytest.mark.parametrize(
    ("rules", "expected"),
    [
        pytest.param(
            [],
            {"users": USERS_ALL, "orders": {"id", "total", "user_id"}, "logs": {"id", "message"}},
            id="no rules selects everything",
        ),
        pytest.param(["users.*"], {"users": USERS_ALL}, id="stream.*"),
        pytest.param(["users"], {"users": USERS_ALL}, id="bare stream"),
        pytest.param(["users.name"], {"users": {"id", "name"}}, id="one property + automatic"),
        pytest.param(
            ["users.*", "!users.password"], {"users": USERS_ALL - {"password"}}, id="exclusion"
        ),
        pytest.param(
            ["*.id"], {"users": {"id"}, "orders": {"id"}, "logs": {"id"}}, id="*.property"
        ),
        pytest.param(
            ["users.address.city"], {"users": {"id", "address", "address.city"}}, id="nested"
        ),
        pytest.param(
            ["users.*", "!users.address.zip"],
            {"users": USERS_ALL - {"address.zip"}},
            id="nested exclusion",
        ),
        pytest.param(
            ["users.*", "!users.address"],
            {"users": USERS_ALL - {"address", "address.city", "address.zip"}},
            id="excluding a parent excludes its children",
        ),
        pytest.param(
            ["*.*", "!logs.*"],
            {"users": USERS_ALL, "orders": {"id", "total", "user_id"}},
            id="!stream.* drops the stream",
        ),
        pytest.param(
            ["*.*", "!logs"],
            {"users": USERS_ALL, "orders": {"id", "total", "user_id"}},
            id="!stream drops the stream",
        ),
        pytest.param(["user?.na*"], {"users": {"id", "name"}}, id="globs in both parts"),
        pytest.param(
            ["ord*.*", "users.password", "!*.password"],
            {"orders": {"id", "total", "user_id"}, "users": {"id"}},
            id="exclusion wins over inclusion",
        ),
        pytest.param(["!users.*"], {}, id="only exclusions select nothing"),
        pytest.param(["users.internal"], {"users": {"id"}}, id="unsupported is never selected"),
        pytest.param(["  users.name "], {"users": {"id", "name"}}, id="surrounding spaces"),
        pytest.param(["Users.*"], {}, id="case-sensitive"),
    ],
)
def test_select_rules(rules: list[str], expected: dict[str, set[str]]) -> None:
    assert selected(apply_selection(CATALOG, rules)) == expected


@pytest.mark.parametrize("pattern", ["", "   ", "!", "a.b.c..", ".users", "users.", "a..b", "!!a"])
def test_invalid_patterns_are_named(pattern: str) -> None:
    with pytest.raises(SelectPatternError, match="invalid select pattern") as raised:
        apply_selection(CATALOG, ["users.*", pattern])
    assert repr(pattern) in str(raised.value)


def test_rules_must_be_a_list() -> None:
    with pytest.raises(SelectPatternError):
        apply_selection(CATALOG, "users.*")


def test_selection_writes_metadata_on_a_copy() -> None:
    original = copy.deepcopy(CATALOG)
    result = apply_selection(CATALOG, ["users.name"])
    assert original == CATALOG
    users = {tuple(m["breadcrumb"]): m["metadata"] for m in result["streams"][0]["metadata"]}
    assert users[()] == {"table-key-properties": ["id"], "selected": True}
    assert users[("properties", "name")]["selected"] is True
    assert users[("properties", "password")] == {"selected": False}
    assert users[("properties", "address", "properties", "city")] == {"selected": False}
    logs = {tuple(m["breadcrumb"]): m["metadata"] for m in result["streams"][2]["metadata"]}
    assert logs[()] == {"selected": False}


def test_describe_lists_selected_properties_with_labels() -> None:
    catalog = apply_selection(CATALOG, ["users.name", "users.address.city"])
    assert describe_selection(catalog) == [
        "[automatic] users.id",
        "[selected ] users.name",
        "[selected ] users.address",
        "[selected ] users.address.city",
    ]
    assert "[excluded ] users.password" in describe_selection(catalog, everything=True)


def test_listing_falls_back_to_the_taps_defaults() -> None:
    listing = {s.stream: s for s in list_selection(CATALOG)}
    assert not listing["users"].selected
    assert {p.path for p in listing["users"].selected_properties} == {"id", "name"}


def test_metadata_overrides_streams_and_properties() -> None:
    catalog = apply_metadata(
        CATALOG,
        {
            "users": {"replication-method": "INCREMENTAL", "replication-key": "updated_at"},
            "*": {"id": {"is-primary-key": True}},
            "use*": {"address.*": {"custom": 1}, "extra": {"inclusion": "available"}},
        },
    )
    users = catalog["streams"][0]
    meta = {tuple(m["breadcrumb"]): m["metadata"] for m in users["metadata"]}
    assert meta[()]["replication-method"] == "INCREMENTAL"
    assert meta[()]["replication-key"] == "updated_at"
    assert users["replication_method"] == "INCREMENTAL"
    assert users["replication_key"] == "updated_at"
    assert meta[("properties", "id")] == {"inclusion": "automatic", "is-primary-key": True}
    assert meta[("properties", "address", "properties", "city")] == {"custom": 1}
    assert meta[("properties", "address", "properties", "zip")] == {"custom": 1}
    assert meta[("properties", "extra")] == {"inclusion": "available"}
    orders = {tuple(m["breadcrumb"]): m["metadata"] for m in catalog["streams"][1]["metadata"]}
    assert orders == {("properties", "id"): {"is-primary-key": True}}
    assert "replication-method" not in CATALOG["streams"][0]["metadata"][0]["metadata"]


def test_metadata_has_the_last_word_on_selection() -> None:
    catalog = apply_selection(CATALOG, ["users.*"])
    catalog = apply_metadata(catalog, {"users": {"password": {"selected": False}}})
    assert selected(catalog) == {"users": USERS_ALL - {"password"}}


@pytest.mark.parametrize(
    ("overrides", "named"),
    [
        ({"": {"replication-method": "FULL_TABLE"}}, "''"),
        ({"users": {"a..b": {"selected": True}}}, "'users.a..b'"),
        ({"users": "INCREMENTAL"}, "'users'"),
    ],
)
def test_invalid_metadata_overrides_are_named(overrides: dict[str, Any], named: str) -> None:
    with pytest.raises(SelectPatternError, match=named):
        apply_metadata(CATALOG, overrides)

"""Select rules and metadata keys that match nothing in a catalog are named, with the closest
name the catalog has."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from flx_meltano.catalog import SelectPatternError, unmatched_rules
from flx_meltano.catalog.unmatched import catalog_names
from flx_meltano.connectors.tap_sample import discover


def nested_catalog() -> dict[str, Any]:
    return {
        "streams": [
            {
                "tap_stream_id": "public-customers",
                "schema": {
                    "properties": {
                        "id": {"type": "integer"},
                        "address": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}, "zip": {"type": "string"}},
                        },
                    }
                },
                "metadata": [
                    {"breadcrumb": [], "metadata": {"inclusion": "available"}},
                    # A property only the metadata mentions.
                    {"breadcrumb": ["properties", "_sdc_deleted_at"], "metadata": {}},
                ],
            }
        ]
    }


def test_rules_that_match_something_pass() -> None:
    rules = ["users.*", "!users.email", "*.id", "orders", "users.name", "!events", "o*.amount"]
    metadata = {
        "users": {"replication-method": "FULL_TABLE"},
        "*": {"id": {"is-primary-key": True}},
        "orders": {"amo*": {"selected": False}},
    }
    assert unmatched_rules(discover(), rules, metadata, tap="tap-flx-sample") == []


def test_no_rules_no_messages() -> None:
    assert unmatched_rules(discover(), [], {}) == []


def test_a_stream_that_is_not_there_is_named_with_the_closest_stream() -> None:
    assert unmatched_rules(discover(), ["user.*"], {}, tap="tap-y") == [
        "select rule 'user.*' matches no stream of tap-y's catalog; closest: 'users'"
    ]


def test_a_property_that_is_not_there_is_named_with_the_closest_property() -> None:
    [message] = unmatched_rules(discover(), ["users.emial"], {}, tap="tap-y")
    assert message == (
        "select rule 'users.emial' matches no property of stream 'users' of tap-y's catalog; "
        "closest: 'users.email'"
    )


def test_an_exclusion_that_excludes_nothing_is_reported_too() -> None:
    [message] = unmatched_rules(discover(), ["users.*", "!users.pasword"], {})
    assert message.startswith("select rule '!users.pasword' matches no property of stream 'users'")
    [message] = unmatched_rules(discover(), ["!logs"], {})
    assert message.startswith("select rule '!logs' matches no stream of the catalog")


def test_a_glob_stream_keeps_its_glob_in_the_suggestion() -> None:
    [message] = unmatched_rules(discover(), ["*.updated_att"], {})
    assert "matches no property of the streams it names (users, orders, events)" in message
    assert message.endswith("closest: '*.updated_at'")


def test_with_nothing_close_the_names_there_are_are_listed() -> None:
    [message] = unmatched_rules(discover(), ["zzzz.*"], {})
    assert message.endswith("its streams: 'users', 'orders', 'events'")
    [message] = unmatched_rules(discover(), ["events.qqqqqq"], {})
    assert message.endswith("its properties: 'id', 'user_id', 'kind', 'path', 'updated_at'")


def test_a_case_slip_finds_its_name() -> None:
    [message] = unmatched_rules(discover(), ["USERS.*"], {})
    assert message.endswith("closest: 'users'")


def test_nested_properties_and_metadata_only_properties_count() -> None:
    catalog = nested_catalog()
    good = ["public-customers.address", "public-customers.address.city", "*._sdc_deleted_at"]
    assert unmatched_rules(catalog, good, {}) == []
    [message] = unmatched_rules(catalog, ["public-customers.address.cty"], {})
    assert message.endswith("closest: 'public-customers.address.city'")


def test_metadata_keys_that_match_nothing() -> None:
    metadata = {
        "userz": {"replication-method": "INCREMENTAL"},
        "orders": {"amont": {"selected": True}, "replication-key": "updated_at"},
    }
    assert unmatched_rules(discover(), [], metadata, tap="tap-y") == [
        "metadata key 'userz' matches no stream of tap-y's catalog; closest: 'users'",
        "metadata key 'orders.amont' matches no property of stream 'orders' of tap-y's "
        "catalog; closest: 'orders.amount'",
    ]


def test_each_problem_once_and_the_catalog_untouched() -> None:
    catalog = discover()
    before = copy.deepcopy(catalog)
    assert len(unmatched_rules(catalog, ["user.*", "user.*"], {})) == 1
    assert catalog == before


def test_a_rule_that_does_not_parse_raises() -> None:
    with pytest.raises(SelectPatternError):
        unmatched_rules(discover(), ["users..name"], {})


def test_catalog_names_lists_streams_and_their_properties() -> None:
    names = catalog_names(nested_catalog())
    assert names == {
        "public-customers": [
            ("id",),
            ("address",),
            ("address", "city"),
            ("address", "zip"),
            ("_sdc_deleted_at",),
        ]
    }

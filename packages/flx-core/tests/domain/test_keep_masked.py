"""A secret read back masked and sent again with an edit keeps its stored value."""

from __future__ import annotations

from flx_core.domain import keep_masked
from flx_core.domain.secrets import MASK


def test_a_masked_value_is_the_stored_one_again() -> None:
    old = {"password": "s3cret", "port": 5432}
    assert keep_masked({"password": MASK, "port": 5433}, old) == {
        "password": "s3cret",
        "port": 5433,
    }


def test_a_new_value_replaces_the_secret() -> None:
    assert keep_masked({"password": "new"}, {"password": "s3cret"}) == {"password": "new"}


def test_the_mask_for_a_setting_that_had_no_value_stays_as_sent() -> None:
    assert keep_masked({"password": MASK}, {}) == {"password": MASK}


def test_nested_objects_and_masked_connection_strings() -> None:
    old = {"tap": {"url": "postgresql://u:pw@db/x", "auth": {"token": "t0k"}}}
    sent = {"tap": {"url": "postgresql://u:********@db/x", "auth": {"token": MASK}}}
    assert keep_masked(sent, old) == old
    other_host = {"tap": {"url": "postgresql://u:********@other/x"}}
    assert keep_masked(other_host, old) == other_host

"""Setting values take the kind their setting declares; the Plugin aggregate applies it."""

from __future__ import annotations

from typing import Any

import pytest

from flx_core.domain import Plugin, PluginSetting, PluginType, SettingKind, ValidationFailed
from flx_core.domain.events import PluginUpdated
from flx_core.domain.value_objects import SettingValueError, setting_value

K = SettingKind


@pytest.mark.parametrize(
    ("raw", "kind", "expected"),
    [
        ("5432", K.INTEGER, 5432),
        (" 7 ", K.INTEGER, 7),
        (5.0, K.INTEGER, 5),
        (12, K.INTEGER, 12),
        ("3", K.NUMBER, 3),
        ("1e3", K.NUMBER, 1000.0),
        ("0.25", K.NUMBER, 0.25),
        ("true", K.BOOLEAN, True),
        ("Off", K.BOOLEAN, False),
        ("1", K.BOOLEAN, True),
        (0, K.BOOLEAN, False),
        ('{"a": 1}', K.OBJECT, {"a": 1}),
        ("[1, 2]", K.ARRAY, [1, 2]),
        (("x",), K.ARRAY, ["x"]),
        (123456, K.SECRET, "123456"),
        ("123456", K.SECRET, "123456"),
        ('{"a": 1}', K.SECRET, '{"a": 1}'),
        (True, K.STRING, "true"),
        ("null", K.STRING, "null"),
        (None, K.INTEGER, None),
        # An undeclared setting keeps the text, unless it is a JSON object or array.
        ("123456", None, "123456"),
        ("null", None, "null"),
        ("1e3", None, "1e3"),
        ("true", None, "true"),
        ('{"a": [1]}', None, {"a": [1]}),
        (" [1, 2] ", None, [1, 2]),
        ("[not json", None, "[not json"),
        (5, None, 5),
    ],
)
def test_values_take_the_declared_kind(raw: Any, kind: SettingKind | None, expected: Any) -> None:
    value = setting_value(raw, kind)
    assert value == expected
    assert type(value) is type(expected)


@pytest.mark.parametrize(
    ("raw", "kind", "message"),
    [
        ("abc", K.INTEGER, "must be an integer (got 'abc')"),
        ("1.5", K.INTEGER, "must be an integer (got '1.5')"),
        (True, K.INTEGER, "must be an integer (got True)"),
        (2.5, K.INTEGER, "must be an integer (got 2.5)"),
        ("nan", K.NUMBER, "must be a number (got 'nan')"),
        ("maybe", K.BOOLEAN, "must be a boolean (true or false) (got 'maybe')"),
        ("[1]", K.OBJECT, "must be a JSON object (got '[1]')"),
        ("{oops", K.ARRAY, "must be a JSON array (got '{oops')"),
        ({"a": 1}, K.STRING, "must be a string (got {'a': 1})"),
    ],
)
def test_a_value_that_does_not_fit_says_what_was_expected(
    raw: Any, kind: SettingKind, message: str
) -> None:
    with pytest.raises(SettingValueError) as caught:
        setting_value(raw, kind)
    assert str(caught.value) == message


def make_plugin(**kw: Any) -> Plugin:
    fields: dict[str, Any] = {"plugin_type": PluginType.EXTRACTOR, "name": "tap-y"} | kw
    return Plugin.create(**fields)


def test_create_converts_config_by_declared_kind() -> None:
    plugin = make_plugin(
        settings=[PluginSetting(name="port", kind=K.INTEGER)],
        config={"password": "123456", "port": "5432", "user": "null", "schema": "1e3"},
    )
    assert plugin.config == {"password": "123456", "port": 5432, "user": "null", "schema": "1e3"}
    # A name that looks secret is a secret: always a string, even given as a number.
    assert make_plugin(config={"api_token": 42}).config == {"api_token": "42"}


def test_create_refuses_a_value_of_the_wrong_kind_naming_the_setting() -> None:
    with pytest.raises(ValidationFailed) as caught:
        make_plugin(settings=[PluginSetting(name="port", kind=K.INTEGER)], config={"port": "x"})
    assert caught.value.message == "setting 'port' of plugin 'tap-y' must be an integer (got 'x')"
    assert caught.value.details["setting"] == "port"


def test_set_setting_converts_and_records_only_names() -> None:
    plugin = make_plugin(settings=[PluginSetting(name="port", kind=K.INTEGER, default=5432)])
    plugin.pull_events()
    assert plugin.set_setting("port", "6000") == ["config"]
    assert plugin.config == {"port": 6000}
    events = plugin.pull_events()
    assert isinstance(events[0], PluginUpdated) and events[0].changes == ["config"]
    assert "6000" not in events[0].model_dump_json()
    assert plugin.set_setting("port", 6000) == []  # the same value: nothing changes
    with pytest.raises(ValidationFailed, match="must be an integer"):
        plugin.set_setting("port", "many")
    assert plugin.config == {"port": 6000}


def test_set_setting_secret_declares_it_and_keeps_text() -> None:
    plugin = make_plugin(settings=[PluginSetting(name="pin", kind=K.INTEGER, description="d")])
    changed = plugin.set_setting("pin", "0042", secret=True)
    assert sorted(changed) == ["config", "settings"]
    assert plugin.config == {"pin": "0042"}
    declared = plugin.setting("pin")
    assert declared is not None and declared.kind is K.SECRET and declared.description == "d"
    assert plugin.masked(plugin.config) == {"pin": "********"}
    plugin.set_setting("dsn", "postgres://u:pw@h/db", secret=True)
    assert plugin.setting_kind("dsn") is K.SECRET


def test_unset_setting_drops_the_value_and_is_idempotent() -> None:
    plugin = make_plugin(config={"host": "db1", "user": "a"})
    assert plugin.unset_setting("host") == ["config"]
    assert plugin.config == {"user": "a"}
    assert plugin.unset_setting("host") == []


def test_redeclaring_a_kind_converts_existing_values() -> None:
    plugin = make_plugin(config={"port": "5432"})
    assert plugin.config == {"port": "5432"}
    plugin.update(settings=[PluginSetting(name="port", kind=K.INTEGER)])
    assert plugin.config == {"port": 5432}
    text = make_plugin(config={"port": "many"})
    with pytest.raises(ValidationFailed, match="'port' of plugin 'tap-y' must be an integer"):
        text.update(settings=[{"name": "port", "kind": "integer"}])
    assert text.settings == [] and text.config == {"port": "many"}


def test_typed_value_names_where_the_value_comes_from() -> None:
    plugin = make_plugin(settings=[PluginSetting(name="ssl", kind=K.BOOLEAN)])
    assert plugin.typed_config({"ssl": "yes", "x": "1"}) == {"ssl": True, "x": "1"}
    with pytest.raises(ValidationFailed) as caught:
        plugin.typed_value("ssl", "sometimes", "in pipeline 'p'")
    assert caught.value.message == (
        "setting 'ssl' of plugin 'tap-y' in pipeline 'p' must be a boolean (true or false) "
        "(got 'sometimes')"
    )

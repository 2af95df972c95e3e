"""Effective settings of a connector in a pipeline, and where each value comes from.

Precedence, lowest first, as Meltano resolves them: the defaults the plugin declares, the
plugin's own values (``flx plugin set``), the pipeline's values for that plugin, then
environment variables named after the plugin (``TAP_POSTGRES_HOST`` sets ``host`` of
``tap-postgres``). Every value takes the kind its setting declares (``Plugin.typed_value``),
whichever layer it comes from.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from flx_core.domain import (
    MASK,
    Pipeline,
    Plugin,
    SettingKind,
    ValidationFailed,
    mask_settings,
)
from flx_core.domain.value_objects import SettingValueError, setting_value

#: Where a value comes from, lowest precedence first.
SOURCES = ("default", "plugin", "pipeline", "environment")


@dataclass(frozen=True)
class ResolvedSetting:
    """One setting of a connector: its effective value and where that value comes from."""

    name: str
    value: Any
    #: default, plugin, pipeline or environment; None when nothing gives it a value.
    source: str | None
    #: The environment variable that sets it.
    variable: str
    kind: SettingKind | None
    secret: bool
    declared: bool
    required: bool = False
    description: str = ""

    def as_dict(self, *, masked: bool = True) -> dict[str, Any]:
        value = self.value
        if masked and self.secret and value not in (None, ""):
            value = MASK
        elif masked and isinstance(value, str | dict):
            value = mask_value(self.name, value)
        return {
            "name": self.name,
            "value": value,
            "source": self.source,
            "env": self.variable,
            "kind": self.kind.value if self.kind else None,
            "secret": self.secret,
            "declared": self.declared,
            "required": self.required,
            "description": self.description,
        }


def mask_value(name: str, value: Any) -> Any:
    """``value`` with URL passwords and secret-looking nested keys masked."""
    return mask_settings({name: value})[name]


def env_name(plugin: Plugin, setting: str) -> str:
    """The environment variable that sets ``setting`` of ``plugin`` (``TAP_X_START_DATE``)."""
    return plugin.env_prefix() + _normalized(setting)


def _normalized(setting: str) -> str:
    return setting.replace("-", "_").replace(".", "_").upper()


def _env_value(plugin: Plugin, name: str, raw: str, variable: str) -> Any:
    try:
        return setting_value(raw, plugin.setting_kind(name))
    except SettingValueError as exc:
        raise ValidationFailed(
            f"environment variable {variable} {exc}", variable=variable, plugin=plugin.name
        ) from None


def resolve_settings(
    plugin: Plugin, pipeline: Pipeline | None, environ: Mapping[str, str]
) -> list[ResolvedSetting]:
    """Every setting the plugin declares or some layer sets, with its effective value
    (declared settings first, in their order; secrets included: never log the values)."""
    values: dict[str, tuple[Any, str | None]] = {}
    for declared in plugin.settings:
        if declared.default is not None:
            values[declared.name] = (plugin.typed_value(declared.name, declared.default), "default")
        else:
            values[declared.name] = (None, None)
    for name, value in plugin.typed_config(plugin.config).items():
        values[name] = (value, "plugin")
    if pipeline is not None:
        layer = pipeline.config.get(plugin.name, {})
        where = f"in pipeline {pipeline.name!r}"
        for name, value in plugin.typed_config(layer, where).items():
            values[name] = (value, "pipeline")
    prefix = plugin.env_prefix()
    known = {_normalized(name): name for name in values}
    for variable, raw in environ.items():
        if not variable.startswith(prefix) or variable == prefix:
            continue
        suffix = variable[len(prefix) :]
        name = known.get(suffix.upper(), suffix.lower())
        values[name] = (_env_value(plugin, name, raw, variable), "environment")
    resolved = []
    for name, (value, source) in values.items():
        declared_setting = plugin.setting(name)
        resolved.append(
            ResolvedSetting(
                name=name,
                value=value,
                source=source,
                variable=env_name(plugin, name),
                kind=plugin.setting_kind(name),
                secret=plugin.is_secret(name),
                declared=declared_setting is not None,
                required=bool(declared_setting and declared_setting.required),
                description=declared_setting.description if declared_setting else "",
            )
        )
    return resolved


def resolve_config(
    plugin: Plugin, pipeline: Pipeline | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The config a connector receives in this pipeline (secrets included: never log it)."""
    config = {s.name: s.value for s in resolve_settings(plugin, pipeline, environ) if s.source}
    missing = missing_settings(plugin, config)
    if missing:
        raise ValidationFailed(
            f"plugin {plugin.name!r} is missing required setting(s): {', '.join(missing)} "
            f"(set them with `flx plugin set {plugin.name} {missing[0]} VALUE`, "
            f"--config {plugin.name}.SETTING=VALUE on the pipeline or "
            f"{env_name(plugin, missing[0])})",
            plugin=plugin.name,
        )
    return config


def missing_settings(plugin: Plugin, config: Mapping[str, Any]) -> list[str]:
    """The settings ``plugin`` requires that ``config`` gives no value."""
    return [s.name for s in plugin.settings if s.required and config.get(s.name) in (None, "")]


def masked_config(plugin: Plugin, config: Mapping[str, Any]) -> dict[str, Any]:
    return plugin.masked(dict(config))

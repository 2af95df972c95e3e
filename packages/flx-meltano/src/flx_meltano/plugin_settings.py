"""Effective settings of a connector in a pipeline.

Precedence, lowest first, as Meltano resolves them: the plugin's own defaults, the
pipeline's overrides for that plugin, then environment variables named after the plugin
(``TAP_POSTGRES_HOST`` sets ``host`` of ``tap-postgres``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from flx_core.domain import Pipeline, Plugin, PluginSetting, SettingKind, ValidationFailed


def _coerce(setting: PluginSetting | None, raw: str, variable: str) -> Any:
    kind = setting.kind if setting else None
    try:
        if kind is SettingKind.INTEGER:
            return int(raw)
        if kind is SettingKind.NUMBER:
            return float(raw)
        if kind is SettingKind.BOOLEAN:
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if kind in (SettingKind.OBJECT, SettingKind.ARRAY):
            return json.loads(raw)
    except ValueError:
        expected = kind.value if kind else "value"
        raise ValidationFailed(
            f"environment variable {variable} must be a valid {expected}", variable=variable
        ) from None
    return raw


def resolve_config(
    plugin: Plugin, pipeline: Pipeline | None, environ: Mapping[str, str]
) -> dict[str, Any]:
    """The config a connector receives in this pipeline (secrets included: never log it)."""
    config: dict[str, Any] = {s.name: s.default for s in plugin.settings if s.default is not None}
    config.update(plugin.config)
    if pipeline is not None:
        config.update(pipeline.config.get(plugin.name, {}))
    declared = {s.name: s for s in plugin.settings}
    prefix = plugin.env_prefix()
    for variable, raw in environ.items():
        if not variable.startswith(prefix) or variable == prefix:
            continue
        suffix = variable[len(prefix) :].lower()
        name = next((n for n in declared if n.replace("-", "_").lower() == suffix), suffix)
        config[name] = _coerce(declared.get(name), raw, variable)
    missing = [s.name for s in plugin.settings if s.required and config.get(s.name) in (None, "")]
    if missing:
        raise ValidationFailed(
            f"plugin {plugin.name!r} is missing required setting(s): {', '.join(missing)} "
            f"(set them with --config {plugin.name}.SETTING=VALUE or "
            f"{prefix}{missing[0].upper()})",
            plugin=plugin.name,
        )
    return config


def masked_config(plugin: Plugin, config: Mapping[str, Any]) -> dict[str, Any]:
    return plugin.masked(dict(config))

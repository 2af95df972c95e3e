"""What FLX cannot represent, each with the reason, so that nothing is dropped in silence."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flx_meltano.engine.load_schema import LOAD_SCHEMA_VARIABLE
from flx_meltano.meltano_project.env_refs import references
from flx_meltano.meltano_project.model import PluginSpec, Unsupported

_PLUGIN_REASONS = {
    "transformers": "dbt transformers are not run by FLX",
    "transforms": "dbt transform packages are not run by FLX",
    "orchestrators": "FLX schedules pipelines itself (flx scheduler)",
    "utilities": "utility plugins and their commands are not run by FLX",
    "files": "file bundles are not installed by FLX",
    "models": "model plugins are not run by FLX",
    "dashboards": "dashboard plugins are not run by FLX",
}


def unsupported_plugins(manifest: Mapping[str, Any]) -> list[Unsupported]:
    out = []
    for key, reason in _PLUGIN_REASONS.items():
        for item in (manifest.get("plugins") or {}).get(key) or []:
            name = item.get("name") if isinstance(item, dict) else item
            out.append(
                Unsupported(
                    kind=key[:-1] if key != "utilities" else "utility",
                    name=str(name),
                    reason=reason,
                )
            )
    return out


def unsupported_extras(name: str, extras: Mapping[str, Any]) -> list[Unsupported]:
    out = []
    if extras.get("env"):
        out.append(
            Unsupported(
                kind="env",
                name=name,
                reason="variables set for the plugin's process are not passed by FLX; "
                "set them where FLX runs",
            )
        )
    if extras.get("commands"):
        out.append(
            Unsupported(kind="commands", name=name, reason="plugin commands are not run by FLX")
        )
    if extras.get("container_spec") or any(
        isinstance(c, dict) and c.get("container_spec")
        for c in (extras.get("commands") or {}).values()
    ):
        out.append(
            Unsupported(kind="container", name=name, reason="container specs are not run by FLX")
        )
    return out


def unsupported_project(manifest: Mapping[str, Any]) -> list[Unsupported]:
    out = []
    if manifest.get("state_backend"):
        out.append(
            Unsupported(
                kind="state_backend",
                name="state_backend",
                reason="FLX keeps state in its own store; import it with --state-from",
            )
        )
    return out


def unexpanded_references(spec: PluginSpec) -> list[Unsupported]:
    """Values that still hold ``$VAR`` references. FLX passes values as written, except
    that a variable named like the setting (``TAP_X_PASSWORD`` for ``password`` of
    ``tap-x``) sets it at run time, as in Meltano, and that a loader's settings get
    ``$MELTANO_EXTRACT__LOAD_SCHEMA`` (the pipeline's load schema) as in Meltano; any other
    reference would reach the connector as text. The extras ``catalog``, ``state`` and
    ``load_schema`` that still hold one are not imported."""
    prefix = spec.name.upper().replace("-", "_") + "_"
    fields: dict[str, Any] = {
        "executable": spec.executable,
        "pip_url": spec.pip_url,
        "catalog": spec.catalog,
        "state": spec.state,
        "load_schema": spec.load_schema,
    }
    given = {LOAD_SCHEMA_VARIABLE} if spec.plugin_type == "loader" else set()
    values = [(k, v, True) for k, v in spec.config.items()]
    values += [(k, v, False) for k, v in fields.items()]
    out = []
    for setting, value, is_setting in values:
        own = prefix + setting.upper().replace(".", "__")
        names = sorted(references(value) - ({own} if is_setting else set()) - given)
        if not names:
            continue
        why = f"set {own} where FLX runs" if is_setting else "give the value in the project"
        out.append(
            Unsupported(
                kind="env reference",
                name=f"{spec.name}: {setting}",
                reason=f"FLX does not expand {', '.join('$' + n for n in names)} at run time; "
                f"{why}, or import with --resolve-env",
            )
        )
    return out

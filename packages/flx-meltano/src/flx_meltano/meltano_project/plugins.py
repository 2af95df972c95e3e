"""Plugins as the chosen environment resolves them: ``inherit_from`` chains, lock files,
setting kinds (secrets), the environment's overrides, env references."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flx_core.domain.value_objects import PluginSetting, SettingKind
from flx_meltano.meltano_project.env_refs import expand, references
from flx_meltano.meltano_project.locks import read_lock
from flx_meltano.meltano_project.model import PluginSpec, ProjectError

#: Plugin kinds FLX runs, by their meltano.yml key.
IMPORTED = {"extractors": "extractor", "loaders": "loader", "mappers": "mapper"}
_KINDS = {
    "string": SettingKind.STRING,
    "integer": SettingKind.INTEGER,
    "boolean": SettingKind.BOOLEAN,
    "password": SettingKind.SECRET,
    "oauth": SettingKind.SECRET,
    "array": SettingKind.ARRAY,
    "object": SettingKind.OBJECT,
    "decimal": SettingKind.NUMBER,
    "number": SettingKind.NUMBER,
}
#: Keys a child of ``inherit_from`` takes from its parent when it does not set them.
_INHERITED = ("variant", "pip_url", "namespace", "executable", "capabilities")
_EXTRAS = (
    "select",
    "metadata",
    "mappings",
    "schema",
    "catalog",
    "state",
    "load_schema",
    "select_filter",
)


def setting_of(raw: Mapping[str, Any]) -> PluginSetting:
    kind = SettingKind.SECRET if raw.get("sensitive") else _KINDS.get(str(raw.get("kind")))
    return PluginSetting(
        name=str(raw["name"]),
        kind=kind or SettingKind.STRING,
        default=raw.get("value"),
        description=str(raw.get("description") or raw.get("label") or ""),
    )


def _merged_settings(*layers: list[Any] | None) -> list[PluginSetting]:
    by_name: dict[str, PluginSetting] = {}
    for layer in layers:
        for raw in layer or []:
            if isinstance(raw, dict) and raw.get("name"):
                by_name[str(raw["name"])] = setting_of(raw)
    return list(by_name.values())


class PluginResolver:
    """Resolves the plugins of one manifest for one environment."""

    def __init__(
        self,
        manifest: Mapping[str, Any],
        root: Path,
        environment: Mapping[str, Any] | None,
        variables: Mapping[str, str],
        source: Path,
        dotenv: Mapping[str, str] | None = None,
    ) -> None:
        self.root = root
        self.dotenv = dotenv or {}
        self.source = source
        self.variables = variables
        self.raw: dict[str, tuple[str, dict[str, Any]]] = {}
        for key, items in (manifest.get("plugins") or {}).items():
            for item in items or []:
                if isinstance(item, dict) and item.get("name"):
                    self.raw[str(item["name"])] = (key, item)
        self.overrides: dict[str, dict[str, Any]] = {}
        env_plugins = ((environment or {}).get("config") or {}).get("plugins") or {}
        for items in env_plugins.values():
            for item in items or []:
                if isinstance(item, dict) and item.get("name"):
                    self.overrides[str(item["name"])] = item

    def kind_of(self, name: str) -> str | None:
        found = self.raw.get(name)
        return found[0] if found else None

    def _chain(self, name: str) -> list[dict[str, Any]]:
        """The plugin and its ancestors, the root first."""
        chain: list[dict[str, Any]] = []
        seen: set[str] = set()
        current: str | None = name
        while current is not None and current in self.raw:
            if current in seen:
                raise ProjectError(f"{self.source}: inherit_from loops through {current!r}")
            seen.add(current)
            item = self.raw[current][1]
            chain.insert(0, item)
            parent = item.get("inherit_from")
            current = str(parent) if parent else None
        return chain

    def resolve(self, name: str) -> PluginSpec:
        key, _item = self.raw[name]
        chain = self._chain(name)
        root_item = chain[0]
        lock_name = str(root_item.get("inherit_from") or root_item["name"])
        merged: dict[str, Any] = {}
        for item in chain:
            for field in _INHERITED:
                if item.get(field) is not None:
                    merged[field] = item[field]
        merged = expand(merged, self.variables)
        lock = read_lock(self.root, key, lock_name, merged.get("variant"))
        config: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        settings = _merged_settings(lock.get("settings"), *(i.get("settings") for i in chain))
        # A child inherits its parent's effective values (environment and .env included)
        # and lays its own over them.
        for item in chain:
            item_name = str(item["name"])
            for layer in (item, self.overrides.get(item_name, {})):
                config.update(layer.get("config") or {})
                for extra in _EXTRAS:
                    if layer.get(extra) is not None:
                        extras[extra] = layer[extra]
            config |= self._from_dotenv(item_name, settings)
        mappings = {
            str(m["name"]): expand(m.get("config") or {}, self.variables)
            for m in extras.get("mappings") or []
            if isinstance(m, dict) and m.get("name")
        }
        own = chain[-1]
        if own.get("inherit_from"):
            # Meltano: a plugin that inherits has a namespace of its own, from its name.
            namespace = str(own.get("namespace") or name.replace("-", "_"))
        else:
            namespace = str(merged.get("namespace") or lock.get("namespace") or "")
        return PluginSpec(
            plugin_type=IMPORTED[key],
            name=name,
            variant=merged.get("variant") or lock.get("variant"),
            pip_url=merged.get("pip_url") or lock.get("pip_url"),
            namespace=namespace,
            executable=merged.get("executable") or lock.get("executable"),
            settings=settings,
            config=expand(config, self.variables),
            capabilities=list(merged.get("capabilities") or lock.get("capabilities") or []),
            select=[str(s) for s in extras.get("select") or []],
            metadata=dict(extras.get("metadata") or {}),
            mappings=mappings,
            **self._pipeline_extras(name, extras, namespace or name.replace("-", "_")),
        )

    def _pipeline_extras(
        self, name: str, extras: Mapping[str, Any], namespace: str
    ) -> dict[str, Any]:
        """The extras ``schema``, ``catalog``, ``state``, ``load_schema`` and
        ``select_filter`` as a pipeline takes them: references to the project's variables
        (and ``$MELTANO_PROJECT_ROOT``, ``$MELTANO_EXTRACTOR_NAMESPACE``) resolved, paths
        made absolute from the project's directory, as Meltano reads them. A value that
        still holds a reference is kept as it is (and listed as not imported)."""
        known = {
            **self.variables,
            "MELTANO_PROJECT_ROOT": str(self.root),
            "MELTANO_EXTRACTOR_NAMESPACE": namespace,
        }
        schema = extras.get("schema") or {}
        if not isinstance(schema, Mapping) or not all(
            isinstance(props, Mapping) and all(isinstance(v, Mapping) for v in props.values())
            for props in schema.values()
        ):
            raise ProjectError(
                f"{self.source}: extractor {name!r}: schema must map streams to properties "
                "to JSON schemas"
            )
        select_filter = extras.get("select_filter") or []
        if not isinstance(select_filter, list):
            raise ProjectError(f"{self.source}: extractor {name!r}: select_filter must be a list")
        out: dict[str, Any] = {
            "schema_overrides": {str(k): dict(v) for k, v in schema.items()},
            "select_filter": [str(f) for f in select_filter],
        }
        for extra in ("catalog", "state", "load_schema"):
            value = extras.get(extra)
            if value in (None, ""):
                continue
            text = str(expand(str(value), known))
            if extra != "load_schema" and not references(text):
                text = str((self.root / text).resolve())
            out[extra] = text
        return out

    def extras_of(self, name: str) -> dict[str, Any]:
        """Every extra (``schema``, ``catalog``...) the plugin or the environment sets."""
        out: dict[str, Any] = {}
        for item in [*self._chain(name), self.overrides.get(name, {})]:
            out.update({k: v for k, v in item.items() if k not in ("name",)})
        return out

    def _from_dotenv(self, name: str, settings: list[PluginSetting]) -> dict[str, Any]:
        """Values of declared settings that the ``.env`` sets the way Meltano reads them
        (``TAP_X_SETTING``, ``.`` as ``__``); they win over meltano.yml, as in Meltano."""
        prefix = name.upper().replace("-", "_") + "_"
        found = {}
        for setting in settings:
            key = prefix + setting.name.upper().replace(".", "__")
            if key in self.dotenv:
                found[setting.name] = self.dotenv[key]
        return found

"""The import as a plan: each plugin, pipeline and state to create, update or leave, worked
out from the project and what FLX holds, before anything changes (``--dry-run`` prints it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from flx_core.domain.errors import ValidationFailed
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.plugin import PLUGIN_UPDATABLE, Plugin
from flx_core.domain.ports import StateVersion
from flx_core.domain.secrets import looks_secret, mask_settings
from flx_core.domain.value_objects import CronExpression, PluginSetting, SettingKind
from flx_meltano.meltano_project.ledger import LEFT_REASON
from flx_meltano.meltano_project.model import (
    MeltanoProject,
    PipelineSpec,
    PluginSpec,
    ProjectError,
    Unsupported,
)

#: The note of state versions an import writes; a later import replaces only those.
IMPORTED_NOTE = "imported from Meltano"
_PIPELINE_FIELDS = (
    "extractor",
    "loader",
    "mappers",
    "config",
    "select",
    "metadata",
    "schedule",
    "state_id",
    "schema_overrides",
    "catalog_path",
    "state_path",
    "load_schema",
    "select_filter",
)

#: Meltano's extractor extras a pipeline carries (shown in the plan when set).
_EXTRAS = ("schema_overrides", "catalog_path", "state_path", "load_schema", "select_filter")
#: ``left``: an earlier import created it, the project no longer has it, FLX keeps it.
Action = Literal["create", "update", "unchanged", "kept", "left"]


class Change(BaseModel):
    kind: Literal["plugin", "pipeline", "state"]
    name: str
    action: Action
    fields: list[str] = Field(default_factory=list)
    #: What is shown (secrets masked).
    detail: dict[str, Any] = Field(default_factory=dict)
    reason: str = ""
    #: What the command that makes the change is given (secrets in clear: never shown).
    payload: dict[str, Any] = Field(default_factory=dict, exclude=True, repr=False)


class ImportPlan(BaseModel):
    project: str
    project_id: str | None = None
    environment: str | None = None
    changes: list[Change] = Field(default_factory=list)
    unsupported: list[Unsupported] = Field(default_factory=list)
    applied: bool = False

    @property
    def changed(self) -> bool:
        return any(c.action in ("create", "update") for c in self.changes)

    @property
    def partial(self) -> bool:
        return bool(self.unsupported)


@dataclass
class Current:
    """What FLX holds of the names the project uses."""

    plugins: dict[str, Plugin] = field(default_factory=dict)
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    states: dict[str, StateVersion] = field(default_factory=dict)
    #: Kind -> names that earlier imports of the project created and FLX still holds.
    created_before: dict[str, set[str]] = field(default_factory=dict)


def desired_plugin(spec: PluginSpec) -> Plugin:
    """The plugin as the project defines it: settings that look secret, or that the
    project declares ``kind: password``/``sensitive``, are declared secret, so that their
    values are encrypted at rest."""
    declared = {s.name for s in spec.settings}
    extra = [
        PluginSetting(name=k, kind=SettingKind.SECRET)
        for k in spec.config
        if k not in declared and looks_secret(k)
    ]
    settings = [
        s.model_copy(update={"kind": SettingKind.SECRET})
        if s.kind is not SettingKind.SECRET and looks_secret(s.name)
        else s
        for s in spec.settings
    ]
    try:
        return _plugin(spec, [*settings, *extra])
    except (ValidationError, ValidationFailed) as exc:
        why = exc.errors()[0]["msg"] if isinstance(exc, ValidationError) else str(exc)
        raise ProjectError(f"{spec.plugin_type} {spec.name!r}: {why}") from None


def _plugin(spec: PluginSpec, settings: list[PluginSetting]) -> Plugin:
    return Plugin.create(
        plugin_type=spec.plugin_type,
        name=spec.name,
        variant=spec.variant,
        pip_url=spec.pip_url,
        namespace=spec.namespace,
        executable=spec.executable,
        settings=settings,
        config=spec.config,
        capabilities=spec.capabilities,
    )


def _plugin_change(spec: PluginSpec, existing: Plugin | None) -> Change:
    want = desired_plugin(spec)
    fields = {k: getattr(want, k) for k in sorted(PLUGIN_UPDATABLE)}
    payload = {k: v.model_dump() if isinstance(v, BaseModel) else v for k, v in fields.items()}
    payload["settings"] = [s.model_dump(mode="json") for s in want.settings]
    if existing is None:
        action: Action = "create"
        changed = sorted(k for k, v in fields.items() if v not in (None, "", [], {}))
        payload |= {"plugin_type": spec.plugin_type, "name": spec.name}
    else:
        changed = [k for k, v in fields.items() if getattr(existing, k) != v]
        action = "update" if changed else "unchanged"
        payload = {k: payload[k] for k in changed}
    detail = {"type": spec.plugin_type, "config": want.masked(want.config)}
    return Change(
        kind="plugin",
        name=spec.name,
        action=action,
        fields=changed,
        detail=detail,
        payload=payload,
    )


def _typed(spec: PipelineSpec, plugins: Mapping[str, Plugin]) -> dict[str, dict[str, Any]]:
    return {
        name: plugins[name].typed_config(values) if name in plugins else values
        for name, values in spec.config.items()
    }


def _pipeline_change(
    spec: PipelineSpec,
    existing: Pipeline | None,
    plugins: Mapping[str, Plugin],
    unsupported: list[Unsupported],
) -> Change:
    schedule = spec.schedule
    if schedule is not None:
        try:
            schedule = CronExpression(value=schedule).value
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
            unsupported.append(Unsupported(kind="schedule", name=spec.name, reason=reason))
            schedule = None
    fields: dict[str, Any] = {
        "extractor": spec.extractor,
        "loader": spec.loader,
        "mappers": spec.mappers,
        "config": _typed(spec, plugins),
        "select": spec.select,
        "metadata": spec.metadata,
        "schedule": schedule,
        "state_id": spec.state_id,
        "schema_overrides": spec.schema_overrides,
        "catalog_path": spec.catalog_path,
        "state_path": spec.state_path,
        "load_schema": spec.load_schema,
        "select_filter": spec.select_filter,
    }
    if existing is None:
        action: Action = "create"
        changed = [k for k in _PIPELINE_FIELDS if fields[k] not in (None, "", [], {})]
        payload = fields | {
            "name": spec.name,
            "description": f"imported from Meltano ({spec.source})",
        }
    else:
        now = {k: getattr(existing, k) for k in _PIPELINE_FIELDS}
        now["schedule"] = existing.schedule.value if existing.schedule else None
        changed = [k for k in _PIPELINE_FIELDS if now[k] != fields[k]]
        action = "update" if changed else "unchanged"
        payload = {k: fields[k] for k in changed}
    masked = {
        name: plugins[name].masked(values) if name in plugins else mask_settings(values)
        for name, values in fields["config"].items()
    }
    detail = {
        "source": spec.source,
        "extractor": spec.extractor,
        "mappers": spec.mappers,
        "loader": spec.loader,
        "schedule": schedule,
        "state_id": spec.state_id,
        "select": spec.select,
        "config": masked,
        **{k: fields[k] for k in _EXTRAS if fields[k] not in (None, [], {})},
    }
    return Change(
        kind="pipeline",
        name=spec.name,
        action=action,
        fields=changed,
        detail=detail,
        payload=payload,
    )


def _state_change(state_id: str, value: dict[str, Any], current: StateVersion | None) -> Change:
    detail = {"value": value}
    if current is None:
        return Change(
            kind="state", name=state_id, action="create", detail=detail, payload={"value": value}
        )
    if current.value == value:
        return Change(kind="state", name=state_id, action="unchanged", detail=detail)
    if current.note != IMPORTED_NOTE:
        return Change(
            kind="state",
            name=state_id,
            action="kept",
            detail=detail,
            reason=f"FLX committed version {current.version} since the last import; "
            "Meltano's state would move it back",
        )
    return Change(
        kind="state", name=state_id, action="update", detail=detail, payload={"value": value}
    )


def _left(project: MeltanoProject, current: Current) -> list[Change]:
    """What earlier imports created that the project no longer has (FLX keeps it)."""
    names = {
        "plugin": {p.name for p in project.plugins},
        "pipeline": {p.name for p in project.pipelines},
    }
    return [
        Change(kind=kind, name=name, action="left", reason=LEFT_REASON)
        for kind in ("plugin", "pipeline")
        for name in sorted(current.created_before.get(kind, set()) - names[kind])
    ]


def plan_import(
    project: MeltanoProject, states: Mapping[str, dict[str, Any]], current: Current
) -> ImportPlan:
    """What importing ``project`` (and Meltano's ``states``) into ``current`` changes."""
    unsupported = list(project.unsupported)
    wanted = {p.name: desired_plugin(p) for p in project.plugins}
    changes = [_plugin_change(p, current.plugins.get(p.name)) for p in project.plugins]
    changes += [
        _pipeline_change(p, current.pipelines.get(p.name), wanted, unsupported)
        for p in project.pipelines
    ]
    used = {p.state_id for p in project.pipelines}
    for state_id, value in sorted(states.items()):
        if state_id not in used:
            unsupported.append(
                Unsupported(
                    kind="state",
                    name=state_id,
                    reason="no pipeline of this project (environment) uses this state id",
                )
            )
            continue
        changes.append(_state_change(state_id, value, current.states.get(state_id)))
    changes += _left(project, current)
    return ImportPlan(
        project=project.path,
        project_id=project.project_id,
        environment=project.environment,
        changes=changes,
        unsupported=unsupported,
    )

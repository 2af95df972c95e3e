"""What a Meltano project turns into: plugin and pipeline specs, states, what is left out."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flx_core.domain.value_objects import PluginSetting


class ProjectError(ValueError):
    """A project FLX cannot read: the message names the file and the problem."""


class Spec(BaseModel):
    model_config = ConfigDict(frozen=True)


class PluginSpec(Spec):
    """One extractor, loader or mapper as the chosen environment resolves it."""

    plugin_type: str
    name: str
    variant: str | None = None
    pip_url: str | None = None
    namespace: str = ""
    executable: str | None = None
    settings: list[PluginSetting] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)
    #: Extractor extras that a pipeline carries (``select``, ``metadata``, ``schema``,
    #: ``catalog``, ``state``, ``load_schema``, ``select_filter``); the paths absolute.
    select: list[str] = Field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schema_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    catalog: str | None = None
    state: str | None = None
    load_schema: str | None = None
    select_filter: list[str] = Field(default_factory=list)
    #: Mapper mappings: mapping name -> its config.
    mappings: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PipelineSpec(Spec):
    """One task of a job (or a schedule of ``meltano elt``) as an FLX pipeline."""

    name: str
    source: str
    extractor: str
    loader: str
    mappers: list[str] = Field(default_factory=list)
    config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    select: list[str] = Field(default_factory=list)
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: str | None = None
    state_id: str = ""
    schema_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    catalog_path: str | None = None
    state_path: str | None = None
    load_schema: str | None = None
    select_filter: list[str] = Field(default_factory=list)


class Unsupported(Spec):
    """Something of the project FLX does not import, and why."""

    kind: str
    name: str
    reason: str


class MeltanoProject(Spec):
    path: str
    #: meltano.yml's ``project_id``, when it has one.
    project_id: str | None = None
    environment: str | None = None
    plugins: list[PluginSpec] = Field(default_factory=list)
    pipelines: list[PipelineSpec] = Field(default_factory=list)
    unsupported: list[Unsupported] = Field(default_factory=list)

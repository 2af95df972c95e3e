"""Domain events of the core aggregates (past tense: something happened)."""

from __future__ import annotations

from typing import Any

from flx_core.domain.pydantic_base import DomainEvent


class PipelineCreated(DomainEvent):
    name: str
    extractor: str
    loader: str


class PipelineUpdated(DomainEvent):
    name: str
    changes: dict[str, Any]


class PipelineDeleted(DomainEvent):
    name: str


class PluginAdded(DomainEvent):
    name: str
    plugin_type: str


class PluginUpdated(DomainEvent):
    name: str
    changes: list[str]


class PluginRemoved(DomainEvent):
    name: str
    plugin_type: str


class ExecutionQueued(DomainEvent):
    pipeline_name: str


class ExecutionStarted(DomainEvent):
    pipeline_name: str


class ExecutionSucceeded(DomainEvent):
    pipeline_name: str
    duration_seconds: float
    records: int


class ExecutionFailed(DomainEvent):
    pipeline_name: str
    duration_seconds: float
    error: str


class ExecutionCancelled(DomainEvent):
    pipeline_name: str

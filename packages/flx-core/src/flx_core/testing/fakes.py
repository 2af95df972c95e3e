"""Fakes built on the same ports as the SQL adapters (cosmicpython's FakeUnitOfWork shape).

Changes are staged per unit of work and applied to the shared ``InMemoryWorld`` only on
commit, so a failed command leaves nothing behind, as with a database.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flx_core.domain.errors import AlreadyExists, ConcurrencyConflict
from flx_core.domain.execution import PipelineExecution
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.plugin import Plugin
from flx_core.domain.ports import (
    EventFilter,
    EventStore,
    ExecutionFilter,
    ExecutionRepository,
    Page,
    PipelineFilter,
    PipelineRepository,
    PluginRepository,
    StoredEvent,
    UnitOfWork,
)
from flx_core.domain.pydantic_base import DomainEvent
from flx_core.domain.value_objects import ExecutionStatus, PluginType


class FakeClock:
    def __init__(self, start: datetime | None = None) -> None:
        self.current = start or datetime(2026, 1, 1, tzinfo=UTC)

    def now(self) -> datetime:
        return self.current

    def advance(self, seconds: float) -> None:
        self.current += timedelta(seconds=seconds)


@dataclass
class InMemoryWorld:
    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    plugins: dict[str, Plugin] = field(default_factory=dict)
    executions: dict[str, PipelineExecution] = field(default_factory=dict)
    events: list[StoredEvent] = field(default_factory=list)
    commits: int = 0

    def uow(self) -> InMemoryUnitOfWork:
        return InMemoryUnitOfWork(self)


def _copy(obj: Any) -> Any:
    return copy.deepcopy(obj)


class _Repo:
    def __init__(self, store: dict[str, Any], staged: dict[str, Any | None]) -> None:
        self.store, self.staged = store, staged

    def _current(self, key: str) -> Any | None:
        if key in self.staged:
            return self.staged[key]
        return self.store.get(key)

    def _all(self) -> list[Any]:
        merged = {**self.store, **self.staged}
        return [v for v in merged.values() if v is not None]

    def _save(self, aggregate: Any) -> None:
        stored = self._current(aggregate.id)
        if stored is None or stored.version != aggregate.version:
            raise ConcurrencyConflict(f"{aggregate.id} was changed by someone else")
        aggregate.version += 1
        self.staged[aggregate.id] = _copy(aggregate)


class FakePipelines(_Repo, PipelineRepository):
    async def add(self, pipeline: Pipeline) -> None:
        if any(p.name == pipeline.name for p in self._all()):
            raise AlreadyExists(f"pipeline {pipeline.name!r} already exists")
        pipeline.version = 1
        self.staged[pipeline.id] = _copy(pipeline)

    async def get(self, pipeline_id: str) -> Pipeline | None:
        found = self._current(pipeline_id)
        return _copy(found) if found else None

    async def get_by_name(self, name: str) -> Pipeline | None:
        return next((_copy(p) for p in self._all() if p.name == name), None)

    async def save(self, pipeline: Pipeline) -> None:
        self._save(pipeline)

    async def delete(self, pipeline: Pipeline) -> None:
        self.staged[pipeline.id] = None

    async def list(
        self, flt: PipelineFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Pipeline]:
        items = sorted(self._all(), key=lambda p: p.name)
        items = [
            p
            for p in items
            if (flt.enabled is None or p.enabled == flt.enabled)
            and (flt.extractor is None or p.extractor == flt.extractor)
            and (flt.loader is None or p.loader == flt.loader)
            and (flt.tag is None or flt.tag in p.tags)
            and (flt.name_contains is None or flt.name_contains in p.name)
            and (cursor is None or p.name > cursor)
        ]
        nxt = items[limit - 1].name if len(items) > limit else None
        return Page(items=[_copy(p) for p in items[:limit]], next_cursor=nxt)


class FakePlugins(_Repo, PluginRepository):
    async def add(self, plugin: Plugin) -> None:
        if any(p.name == plugin.name for p in self._all()):
            raise AlreadyExists(f"plugin {plugin.name!r} already exists")
        plugin.version = 1
        self.staged[plugin.id] = _copy(plugin)

    async def get_by_name(self, name: str) -> Plugin | None:
        return next((_copy(p) for p in self._all() if p.name == name), None)

    async def save(self, plugin: Plugin) -> None:
        self._save(plugin)

    async def delete(self, plugin: Plugin) -> None:
        self.staged[plugin.id] = None

    async def list(self, plugin_type: PluginType | None = None) -> list[Plugin]:
        return sorted(
            (_copy(p) for p in self._all() if plugin_type in (None, p.plugin_type)),
            key=lambda p: (p.plugin_type.value, p.name),
        )


class FakeExecutions(_Repo, ExecutionRepository):
    async def add(self, execution: PipelineExecution) -> None:
        execution.version = 1
        self.staged[execution.id] = _copy(execution)

    async def get(self, execution_id: str) -> PipelineExecution | None:
        found = self._current(execution_id)
        return _copy(found) if found else None

    async def save(self, execution: PipelineExecution) -> None:
        self._save(execution)

    async def list(
        self, flt: ExecutionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[PipelineExecution]:
        items = sorted(self._all(), key=lambda e: (e.created_at, e.id), reverse=True)
        items = [
            e
            for e in items
            if (flt.pipeline_id is None or e.pipeline_id == flt.pipeline_id)
            and (flt.pipeline_name is None or e.pipeline_name == flt.pipeline_name)
            and (not flt.statuses or e.status in flt.statuses)
            and (flt.trigger is None or e.trigger == flt.trigger)
            and (flt.retry_of is None or e.retry_of == flt.retry_of)
            and (flt.since is None or e.created_at >= flt.since)
            and (flt.until is None or e.created_at < flt.until)
        ]
        return Page(items=[_copy(e) for e in items[:limit]], next_cursor=None)

    async def active_for(self, pipeline_id: str) -> Sequence[PipelineExecution]:
        active = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)
        return [
            _copy(e) for e in self._all() if e.pipeline_id == pipeline_id and e.status in active
        ]


class FakeEvents(EventStore):
    def __init__(self, world: InMemoryWorld) -> None:
        self.world = world
        self.staged: list[StoredEvent] = []

    async def append(self, events: Sequence[DomainEvent], actor: str) -> None:
        start = len(self.world.events) + len(self.staged)
        for i, e in enumerate(events, start=1):
            self.staged.append(
                StoredEvent(
                    position=start + i,
                    event_id=str(e.event_id),
                    event_type=e.event_type(),
                    aggregate_id=e.aggregate_id,
                    actor=actor,
                    occurred_at=e.occurred_at,
                    payload=e.model_dump(
                        mode="json", exclude={"event_id", "occurred_at", "aggregate_id"}
                    ),
                )
            )

    async def list(self, flt: EventFilter, *, limit: int = 100) -> list[StoredEvent]:
        # As the SQL store: newest first, or oldest first after a position.
        ordered = (
            reversed(self.world.events)
            if flt.after is None
            else (e for e in self.world.events if e.position > flt.after)
        )
        return [
            e
            for e in ordered
            if (flt.aggregate_id is None or e.aggregate_id == flt.aggregate_id)
            and (flt.event_type is None or e.event_type == flt.event_type)
            and (flt.actor is None or e.actor == flt.actor)
            and (flt.since is None or e.occurred_at >= flt.since)
            and (flt.until is None or e.occurred_at <= flt.until)
        ][:limit]


class InMemoryUnitOfWork(UnitOfWork):
    def __init__(self, world: InMemoryWorld) -> None:
        self.world = world
        self.repositories = {}

    async def __aenter__(self) -> InMemoryUnitOfWork:
        await super().__aenter__()
        self._staged: dict[str, dict[str, Any]] = {"p": {}, "g": {}, "e": {}}
        self.pipelines = FakePipelines(self.world.pipelines, self._staged["p"])
        self.plugins = FakePlugins(self.world.plugins, self._staged["g"])
        self.executions = FakeExecutions(self.world.executions, self._staged["e"])
        self.events = FakeEvents(self.world)
        return self

    async def _commit(self) -> None:
        for key, store in (
            ("p", self.world.pipelines),
            ("g", self.world.plugins),
            ("e", self.world.executions),
        ):
            for ident, value in self._staged[key].items():
                if value is None:
                    store.pop(ident, None)
                else:
                    store[ident] = value
            self._staged[key].clear()
        assert isinstance(self.events, FakeEvents)
        self.world.events.extend(self.events.staged)
        self.events.staged.clear()
        self.world.commits += 1

    async def rollback(self) -> None:
        for staged in self._staged.values():
            staged.clear()
        if isinstance(self.events, FakeEvents):
            self.events.staged.clear()

"""Ports: the boundaries the domain and application speak to; adapters implement them."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Generic, Protocol, Self, TypeVar, runtime_checkable

from pydantic import Field

from flx_core.domain.execution import PipelineExecution
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.plugin import Plugin
from flx_core.domain.pydantic_base import DomainBaseModel, DomainEvent, DomainValueObject
from flx_core.domain.security import Principal
from flx_core.domain.value_objects import ExecutionStatus, PluginType

T = TypeVar("T")


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class Page(DomainBaseModel, Generic[T]):
    """One page of a list and the opaque cursor of the next one (None at the end)."""

    items: list[T]
    next_cursor: str | None = None


class PipelineFilter(DomainValueObject):
    name_contains: str | None = None
    extractor: str | None = None
    loader: str | None = None
    enabled: bool | None = None
    tag: str | None = None


class ExecutionFilter(DomainValueObject):
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    statuses: frozenset[ExecutionStatus] = frozenset()
    trigger: str | None = None
    #: The attempts of a retried run: executions whose first attempt is this one.
    retry_of: str | None = None
    since: datetime | None = None
    until: datetime | None = None


class StoredEvent(DomainValueObject):
    """An audit-trail entry: a domain event with who caused it."""

    position: int
    event_id: str
    event_type: str
    aggregate_id: str
    actor: str
    occurred_at: datetime
    payload: dict[str, Any] = Field(default_factory=dict)


class EventFilter(DomainValueObject):
    aggregate_id: str | None = None
    event_type: str | None = None
    actor: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    #: Only the events after this position, oldest first (reading the trail forward, as a
    #: follower does); without it the newest come first.
    after: int | None = Field(default=None, ge=0)


class PipelineRepository(ABC):
    @abstractmethod
    async def add(self, pipeline: Pipeline) -> None: ...

    @abstractmethod
    async def get(self, pipeline_id: str) -> Pipeline | None: ...

    @abstractmethod
    async def get_by_name(self, name: str) -> Pipeline | None: ...

    @abstractmethod
    async def save(self, pipeline: Pipeline) -> None:
        """Persist changes; raises ConcurrencyConflict when the stored version moved."""

    @abstractmethod
    async def delete(self, pipeline: Pipeline) -> None: ...

    @abstractmethod
    async def list(
        self, flt: PipelineFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Pipeline]: ...


class PluginRepository(ABC):
    @abstractmethod
    async def add(self, plugin: Plugin) -> None: ...

    @abstractmethod
    async def get_by_name(self, name: str) -> Plugin | None: ...

    @abstractmethod
    async def save(self, plugin: Plugin) -> None: ...

    @abstractmethod
    async def delete(self, plugin: Plugin) -> None: ...

    @abstractmethod
    async def list(self, plugin_type: PluginType | None = None) -> list[Plugin]: ...


class ExecutionRepository(ABC):
    @abstractmethod
    async def add(self, execution: PipelineExecution) -> None: ...

    @abstractmethod
    async def get(self, execution_id: str) -> PipelineExecution | None: ...

    @abstractmethod
    async def save(self, execution: PipelineExecution) -> None: ...

    @abstractmethod
    async def list(
        self, flt: ExecutionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[PipelineExecution]: ...

    @abstractmethod
    async def active_for(self, pipeline_id: str) -> Sequence[PipelineExecution]:
        """Executions of the pipeline that are pending, queued or running."""


class EventStore(ABC):
    """Append-only audit trail of domain events."""

    @abstractmethod
    async def append(self, events: Sequence[DomainEvent], actor: str) -> None: ...

    @abstractmethod
    async def list(self, flt: EventFilter, *, limit: int = 100) -> list[StoredEvent]: ...


class UnitOfWork(ABC):
    """One business transaction: repositories that commit or roll back together.

    Events recorded by aggregates touched in the transaction are collected on commit and
    handed out by :meth:`collect_new_events`, to be dispatched after the commit.
    """

    pipelines: PipelineRepository
    plugins: PluginRepository
    executions: ExecutionRepository
    events: EventStore
    actor: str = "system"

    #: Repositories of other bounded contexts, keyed by their port (see :meth:`get`).
    repositories: dict[type[Any], Any]

    async def __aenter__(self) -> Self:
        self._seen: list[Any] = []
        self._pending_events: list[DomainEvent] = []
        return self

    def get(self, port: type[T]) -> T:
        """The repository of another bounded context registered for ``port``."""
        try:
            repo: T = self.repositories[port]
        except (KeyError, AttributeError):
            raise LookupError(f"this unit of work has no repository for {port.__name__}") from None
        return repo

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.rollback()

    def track(self, aggregate: Any) -> None:
        """Remember an aggregate so its events are collected at commit time."""
        if all(a is not aggregate for a in self._seen):
            self._seen.append(aggregate)

    async def commit(self) -> None:
        events: list[DomainEvent] = []
        for aggregate in self._seen:
            events.extend(aggregate.pull_events())
        if events:
            await self.events.append(events, self.actor)
        await self._commit()
        self._pending_events.extend(events)
        self._seen = []

    def collect_new_events(self) -> list[DomainEvent]:
        events, self._pending_events = self._pending_events, []
        return events

    @abstractmethod
    async def _commit(self) -> None: ...

    @abstractmethod
    async def rollback(self) -> None: ...


@runtime_checkable
class EventBusPort(Protocol):
    async def publish(self, event: DomainEvent) -> None: ...


class StateVersion(DomainValueObject):
    state_id: str
    version: int
    value: dict[str, Any]
    created_at: datetime
    execution_id: str | None = None
    partial: bool = False
    note: str = ""


class StateStorePort(ABC):
    """Versioned Singer state per state id."""

    @abstractmethod
    async def get(self, state_id: str) -> StateVersion | None: ...

    @abstractmethod
    async def set(
        self,
        state_id: str,
        value: dict[str, Any],
        *,
        execution_id: str | None = None,
        partial: bool = False,
        note: str = "",
    ) -> StateVersion: ...

    @abstractmethod
    async def history(self, state_id: str, *, limit: int = 50) -> list[StateVersion]: ...

    @abstractmethod
    async def restore(self, state_id: str, version: int) -> StateVersion: ...

    @abstractmethod
    async def clear(self, state_id: str) -> None: ...

    @abstractmethod
    async def list_ids(self) -> list[str]: ...


class RunRequest(DomainValueObject):
    """What an executor is handed: an execution (queued, holding its pipeline's lock) and
    how to run it."""

    execution_id: str
    pipeline_id: str
    principal: Principal
    full_refresh: bool = False
    refresh_catalog: bool = False
    timeout: float | None = None
    #: The worker queue to send it to (Celery); the executor's default when None.
    queue: str | None = None
    #: Do not start before then (a retry's backoff).
    not_before: datetime | None = None
    #: The W3C trace context (``traceparent``, ``tracestate``) of the request that queued
    #: it, so that the run continues that trace in whichever process runs it.
    trace_context: dict[str, str] = {}


class ExecutorPort(Protocol):
    """Runs executions: in this process (local) or on workers (distributed).

    ``submit`` returns at once; the run goes on in the background and records its end on
    the execution. ``wait`` returns the finished execution (an observer, if given, is told
    of the run's progress when the run is in this process). ``cancel`` stops a run of this
    executor; it returns False when the run is not here (other processes notice the
    execution's cancel request instead).
    """

    def submit(self, request: RunRequest) -> None: ...

    async def wait(self, execution_id: str, observer: Any = None) -> PipelineExecution: ...

    def cancel(self, execution_id: str) -> bool: ...


class LogChunk(DomainValueObject):
    """Bytes of an execution's log from ``offset``; ``next_offset`` is where to read on."""

    data: bytes
    offset: int
    next_offset: int


class LogStorePort(ABC):
    """Execution logs: appended by the process running the execution, readable from any
    process that reaches the store (files under FLX_HOME, or the database)."""

    @abstractmethod
    async def append(self, execution_id: str, offset: int, data: bytes) -> None:
        """Store ``data`` at ``offset`` of the execution's log (appends come in order)."""

    @abstractmethod
    async def read(
        self, execution_id: str, offset: int = 0, limit: int | None = None
    ) -> LogChunk: ...

    @abstractmethod
    async def size(self, execution_id: str) -> int | None:
        """The log's length in bytes, or None when the execution has no log here."""

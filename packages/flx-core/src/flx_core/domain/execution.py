"""The PipelineExecution aggregate: one run of a pipeline and its status machine."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field

from flx_core.domain.base import new_id
from flx_core.domain.errors import InvalidTransition
from flx_core.domain.events import (
    ExecutionCancelled,
    ExecutionFailed,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionSucceeded,
)
from flx_core.domain.pydantic_base import DomainAggregateRoot, utc_now
from flx_core.domain.value_objects import Duration, ExecutionStatus


class PipelineExecution(DomainAggregateRoot):
    id: str = Field(default_factory=new_id)
    pipeline_id: str
    pipeline_name: str
    status: ExecutionStatus = ExecutionStatus.PENDING
    #: Why it ran: manual, schedule, retry or api.
    trigger: str = "manual"
    #: Who asked (a user's subject, or "system" / "scheduler").
    requested_by: str = "system"
    #: 1 for a first run; a retry is an execution of its own with the next number.
    attempt: int = 1
    #: The first attempt's id, on a retry.
    retry_of: str | None = None
    idempotency_key: str | None = None
    #: The cron time a scheduled run was fired for.
    scheduled_for: datetime | None = None
    #: A retry waits until then before it starts.
    not_before: datetime | None = None
    #: The worker queue it was sent to (Celery).
    queue: str | None = None
    full_refresh: bool = False
    created_at: datetime = Field(default_factory=utc_now)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    heartbeat_at: datetime | None = None
    host: str | None = None
    pid: int | None = None
    exit_codes: dict[str, int] = Field(default_factory=dict)
    stream_counts: dict[str, int] = Field(default_factory=dict)
    records: int = 0
    bytes: int = 0
    state_commits: int = 0
    error: str | None = None
    log_path: str | None = None
    cancel_requested: bool = False
    details: dict[str, Any] = Field(default_factory=dict)

    @property
    def duration(self) -> Duration | None:
        if self.started_at is None:
            return None
        return Duration.between(self.started_at, self.finished_at or utc_now())

    def _move(self, new: ExecutionStatus) -> None:
        if not self.status.can_become(new):
            raise InvalidTransition(
                f"execution {self.id} cannot go from {self.status.value} to {new.value}",
                current=self.status.value,
                requested=new.value,
            )
        self.status = new

    def enqueue(self) -> None:
        self._move(ExecutionStatus.QUEUED)
        self.record(ExecutionQueued(aggregate_id=self.id, pipeline_name=self.pipeline_name))

    def start(
        self, *, host: str | None = None, pid: int | None = None, now: datetime | None = None
    ) -> None:
        self._move(ExecutionStatus.RUNNING)
        self.started_at = self.heartbeat_at = now or utc_now()
        self.host, self.pid = host, pid
        self.record(ExecutionStarted(aggregate_id=self.id, pipeline_name=self.pipeline_name))

    @property
    def warnings(self) -> list[str]:
        """What the run's preparation noticed (select rules not applied, ...)."""
        return list(self.details.get("warnings", []))

    def warn(self, message: str) -> None:
        if message not in self.warnings:
            self.details = {**self.details, "warnings": [*self.warnings, message]}

    def beat(self, now: datetime | None = None) -> None:
        self.heartbeat_at = now or utc_now()

    def record_progress(
        self,
        stream_counts: dict[str, int],
        state_commits: int | None = None,
        byte_count: int | None = None,
    ) -> None:
        self.stream_counts = dict(stream_counts)
        self.records = sum(stream_counts.values())
        if state_commits is not None:
            self.state_commits = state_commits
        if byte_count is not None:
            self.bytes = byte_count

    def _finish(self, now: datetime | None) -> float:
        self.finished_at = now or utc_now()
        if self.started_at is None:
            self.started_at = self.finished_at
        return Duration.between(self.started_at, self.finished_at).seconds

    def succeed(
        self, *, exit_codes: dict[str, int] | None = None, now: datetime | None = None
    ) -> None:
        self._move(ExecutionStatus.SUCCEEDED)
        self.exit_codes = dict(exit_codes or {})
        seconds = self._finish(now)
        self.record(
            ExecutionSucceeded(
                aggregate_id=self.id,
                pipeline_name=self.pipeline_name,
                duration_seconds=seconds,
                records=self.records,
            )
        )

    def fail(
        self, error: str, *, exit_codes: dict[str, int] | None = None, now: datetime | None = None
    ) -> None:
        self._move(ExecutionStatus.FAILED)
        self.error = error
        if exit_codes:
            self.exit_codes = dict(exit_codes)
        seconds = self._finish(now)
        self.record(
            ExecutionFailed(
                aggregate_id=self.id,
                pipeline_name=self.pipeline_name,
                duration_seconds=seconds,
                error=error,
            )
        )

    def cancel(
        self, *, exit_codes: dict[str, int] | None = None, now: datetime | None = None
    ) -> None:
        self._move(ExecutionStatus.CANCELLED)
        if exit_codes:
            self.exit_codes = dict(exit_codes)
        self._finish(now)
        self.record(ExecutionCancelled(aggregate_id=self.id, pipeline_name=self.pipeline_name))

    def request_cancel(self) -> None:
        """Ask a running execution to stop; a pending or queued one is cancelled at once."""
        if self.status.is_terminal:
            raise InvalidTransition(
                f"execution {self.id} already ended ({self.status.value})",
                current=self.status.value,
            )
        if self.status is ExecutionStatus.RUNNING:
            self.cancel_requested = True
        else:
            self.cancel()

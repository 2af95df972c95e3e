"""What a run produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal

Role = Literal["tap", "mapper", "target"]


class RunStatus(StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class ProcessOutcome:
    """How one process ended. ``exit_code`` is negative when a signal ended it."""

    name: str
    role: Role
    pid: int
    exit_code: int | None
    stderr_tail: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RunResult:
    status: RunStatus
    started_at: datetime
    finished_at: datetime
    duration: float
    processes: tuple[ProcessOutcome, ...]
    records: Mapping[str, int]
    bytes: int
    states_emitted: int
    last_state: Any
    error: str | None
    timed_out: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status is RunStatus.SUCCEEDED

    @property
    def exit_codes(self) -> dict[str, int | None]:
        return {p.name: p.exit_code for p in self.processes}

    @property
    def record_count(self) -> int:
        return sum(self.records.values())

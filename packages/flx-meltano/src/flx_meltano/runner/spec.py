"""What a run is asked to do: the processes, their wiring and the callbacks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

StateCallback = Callable[[Any], Awaitable[None] | None]
"""Receives the value of each STATE message the target emits, in order."""

ProgressCallback = Callable[["Progress"], Awaitable[None] | None]
"""Receives a snapshot of the run's counters at a regular interval."""


@dataclass(frozen=True, slots=True)
class ProcessSpec:
    """One Singer executable: a name for logs and errors, its argv, and extra environment.

    ``env`` is laid over the environment of the calling process; ``argv[0]`` is looked up on
    the resulting ``PATH`` unless it contains a slash.
    """

    name: str
    argv: tuple[str, ...]
    env: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "argv", tuple(self.argv))
        if not self.name.strip():
            raise ValueError("a process needs a name")
        if not self.argv or not self.argv[0]:
            raise ValueError(f"process {self.name!r} has an empty argv")


@dataclass(frozen=True, slots=True)
class RunSpec:
    """A tap, optional mappers and a target, run as ``tap | mapper... | target``.

    ``timeout`` bounds the whole run; ``grace_period`` is how long a process gets between
    SIGTERM and SIGKILL, and how long the target gets to finish after a failed tap.
    ``on_state`` is awaited for every STATE message in order; if it raises, the run fails.
    """

    tap: ProcessSpec
    target: ProcessSpec
    mappers: tuple[ProcessSpec, ...] = ()
    cwd: Path | None = None
    log_path: Path | None = None
    timeout: float | None = None
    grace_period: float = 10.0
    on_state: StateCallback | None = None
    on_progress: ProgressCallback | None = None
    progress_interval: float = 1.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "mappers", tuple(self.mappers))
        names = [p.name for p in self.processes]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"process names must be unique, repeated: {', '.join(duplicates)}")
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError("timeout must be positive")
        if self.grace_period < 0:
            raise ValueError("grace_period must not be negative")
        if self.progress_interval <= 0:
            raise ValueError("progress_interval must be positive")

    @property
    def processes(self) -> tuple[ProcessSpec, ...]:
        """Upstream to downstream: tap, mappers, target."""
        return (self.tap, *self.mappers, self.target)


@dataclass(frozen=True, slots=True)
class Progress:
    """Counters of a run in flight."""

    elapsed: float
    records: Mapping[str, int]
    bytes: int
    states: int

    @property
    def record_count(self) -> int:
        return sum(self.records.values())

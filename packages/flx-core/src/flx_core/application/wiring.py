"""What a bounded context's factory is given to build its part of a process."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from flx_core.config import FlxSettings
from flx_core.domain.ports import Clock


class ProcessKind(StrEnum):
    """The kinds of FLX process; each is built by ``flx_core.bootstrap`` from the contexts."""

    #: A `flx` command: runs pipelines in its own process, waits for them.
    CLI = "cli"
    #: `flx serve`: the adapters (API, web, gRPC), and embedded also the local executor.
    SERVER = "server"
    #: `flx worker`: runs the executions handed to it.
    WORKER = "worker"
    #: `flx scheduler`: fires schedules and reaps dead executions.
    SCHEDULER = "scheduler"


@dataclass(frozen=True)
class Wiring:
    """Settings and shared infrastructure, handed to every context's module factory."""

    kind: ProcessKind
    settings: FlxSettings
    #: SQLAlchemy's ``async_sessionmaker`` of the process (None with an in-memory unit of
    #: work, in tests); typed loosely so the application layer does not import SQLAlchemy.
    session_factory: Any
    clock: Clock

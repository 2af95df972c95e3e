"""Callbacks a caller (the CLI's live view, an API stream) gets while a run goes."""

from __future__ import annotations

from typing import Any, Protocol

import structlog

from flx_core.domain import PipelineExecution

log = structlog.get_logger(__name__)


class RunObserver(Protocol):
    def started(self, execution: PipelineExecution) -> None: ...

    def warning(self, message: str) -> None: ...

    def waiting(self, reason: str) -> None:
        """The run is queued and waits for its turn (optional: observers may omit it)."""

    def progress(
        self, records: dict[str, int], bytes_: int, states: int, elapsed: float
    ) -> None: ...

    def state_committed(self, version: int) -> None: ...

    def finished(self, execution: PipelineExecution, result: Any) -> None: ...


class RunObservers:
    """The observers of one run. One that joins late is told what it missed (the start and
    the warnings); one that raises is logged and dropped, never fails the run."""

    def __init__(self) -> None:
        self._observers: list[Any] = []
        self._started: PipelineExecution | None = None
        self._warnings: list[str] = []

    def add(self, observer: Any) -> None:
        self._observers.append(observer)
        if self._started is not None:
            self._call(observer, "started", self._started)
        for message in self._warnings:
            self._call(observer, "warning", message)

    def _call(self, observer: Any, name: str, *args: Any) -> None:
        try:
            getattr(observer, name)(*args)
        except Exception:
            log.exception("run_observer_failed", callback=name)
            if observer in self._observers:
                self._observers.remove(observer)

    def _all(self, name: str, *args: Any) -> None:
        for observer in list(self._observers):
            self._call(observer, name, *args)

    def started(self, execution: PipelineExecution) -> None:
        self._started = execution
        self._all("started", execution)

    def warning(self, message: str) -> None:
        self._warnings.append(message)
        self._all("warning", message)

    def waiting(self, reason: str) -> None:
        for observer in list(self._observers):
            if hasattr(observer, "waiting"):
                self._call(observer, "waiting", reason)

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        self._all("progress", records, bytes_, states, elapsed)

    def state_committed(self, version: int) -> None:
        self._all("state_committed", version)

    def finished(self, execution: PipelineExecution, result: Any) -> None:
        self._all("finished", execution, result)

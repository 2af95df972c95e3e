"""Callbacks a caller (the CLI's live view, an API stream) gets while a run goes."""

from __future__ import annotations

from typing import Any, Protocol

from flx_core.domain import PipelineExecution


class RunObserver(Protocol):
    def started(self, execution: PipelineExecution) -> None: ...

    def progress(
        self, records: dict[str, int], bytes_: int, states: int, elapsed: float
    ) -> None: ...

    def state_committed(self, version: int) -> None: ...

    def finished(self, execution: PipelineExecution, result: Any) -> None: ...


class NullObserver:
    def started(self, execution: PipelineExecution) -> None:
        return None

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        return None

    def state_committed(self, version: int) -> None:
        return None

    def finished(self, execution: PipelineExecution, result: Any) -> None:
        return None

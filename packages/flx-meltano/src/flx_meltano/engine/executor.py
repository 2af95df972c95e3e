"""The local executor: runs pipelines as tasks of this process (the embedded default)."""

from __future__ import annotations

from typing import Any

from flx_core.application import Application
from flx_core.domain import PipelineExecution, Principal
from flx_meltano.engine.observer import RunObserver
from flx_meltano.engine.orchestrator import PipelineRunner, RunOptions
from flx_meltano.runner import RunResult


class LocalExecutor:
    def __init__(self, app: Application) -> None:
        self.app = app
        #: Set by an adapter that shows runs live (the CLI's progress view).
        self.observer: RunObserver | None = None
        self._runners: dict[int, PipelineRunner] = {}

    async def run(
        self, ref: str, options: RunOptions, principal: Principal
    ) -> tuple[PipelineExecution, RunResult | None]:
        runner = PipelineRunner(self.app, principal, self.observer)
        self._runners[id(runner)] = runner
        try:
            return await runner.run(ref, options)
        finally:
            self._runners.pop(id(runner), None)

    def cancel(self, execution_id: str) -> bool:
        """Cancel a run of this process; False when it is not running here."""
        for runner in list(self._runners.values()):
            if runner.execution_id == execution_id:
                runner.cancel()
                return True
        return False

    def cancel_all(self) -> None:
        for runner in list(self._runners.values()):
            runner.cancel()

    @property
    def active(self) -> list[Any]:
        return [r.execution_id for r in self._runners.values()]

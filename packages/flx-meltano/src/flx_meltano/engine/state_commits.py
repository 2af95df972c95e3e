"""Committing the STATE messages a target emits as versions of the pipeline's state."""

from __future__ import annotations

import asyncio
from typing import Any

from flx_core.domain.ports import StateStorePort
from flx_meltano.engine.observer import RunObservers
from flx_meltano.state import merge_states


class StateCommitter:
    """Commits the target's STATE messages as versions, at most once per ``interval``.

    A normal run lays each state over the stored one (``base``) and commits it as it comes,
    so a run that fails halfway resumes from what the target confirmed, as Meltano does.
    A full refresh starts from nothing: its states cover only the streams it has reached,
    so they replace the stored state only when the run succeeds; an unfinished full
    refresh leaves the stored state exactly as it was.
    """

    def __init__(
        self,
        store: StateStorePort,
        state_id: str,
        execution_id: str,
        base: dict[str, Any],
        observer: RunObservers,
        *,
        full_refresh: bool = False,
        interval: float = 1.0,
    ) -> None:
        self.store, self.state_id, self.execution_id = store, state_id, execution_id
        self.base, self.observer, self.interval = base, observer, interval
        self.full_refresh = full_refresh
        self.latest: dict[str, Any] | None = None
        self.committed: dict[str, Any] | None = None
        self.commits = 0
        self._last_commit = 0.0

    async def on_state(self, value: Any) -> None:
        if not isinstance(value, dict):
            return
        self.latest = value
        if self.full_refresh:
            return
        now = asyncio.get_running_loop().time()
        if now - self._last_commit >= self.interval:
            await self.commit(partial=True)

    async def commit(self, *, partial: bool) -> None:
        if self.latest is None:
            return
        merged = merge_states(self.base, self.latest)
        if merged == self.committed and partial:
            return
        saved = await self.store.set(
            self.state_id,
            merged,
            execution_id=self.execution_id,
            partial=partial,
            note="partial (run in progress or unfinished)" if partial else "run succeeded",
        )
        self.committed = merged
        self.commits += 1
        self._last_commit = asyncio.get_running_loop().time()
        self.observer.state_committed(saved.version)

    async def commit_unfinished(self) -> None:
        """The run did not succeed: keep what the target confirmed (a normal run). An
        unfinished full refresh commits nothing: the stored state stays as it was."""
        if not self.full_refresh:
            await self.commit(partial=True)

"""Totals of the run history that can no longer change, kept by the process that reads the
business metrics, so that a scrape reads only the recent part of the history.

An execution's counts are final once it has ended. Every execution created before the
*settled line* has ended: the line is never later than the creation of the oldest execution
still pending, queued or running, and stays a margin behind now (an execution is created
with the time of its creation, so none can appear behind the line later). The totals before
the line are read once (the first scrape of a process pays for the whole history), then
moved forward by the executions the line passes; each read adds the live part, the
executions created since the line, read through the creation-time index.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from dataclasses import replace
from datetime import datetime, timedelta

from flx_meltano.reporting.totals import PipelineSums, TotalsRepository
from flx_observability import ExecutionTotals, StreamTotals

#: How far behind now the settled line stays at least.
MARGIN = timedelta(minutes=10)


def _add_executions(
    into: dict[tuple[str, str], ExecutionTotals], more: list[ExecutionTotals]
) -> None:
    for e in more:
        key = (e.pipeline, e.status)
        had = into.get(key)
        if had is None:
            into[key] = e
            continue
        into[key] = replace(
            had,
            count=had.count + e.count,
            timed=had.timed + e.timed,
            duration_sum=had.duration_sum + e.duration_sum,
            duration_buckets=tuple(
                a + b for a, b in zip(had.duration_buckets, e.duration_buckets, strict=True)
            ),
        )


def _add_sums(into: dict[str, PipelineSums], more: dict[str, PipelineSums]) -> None:
    for name, s in more.items():
        mine = into.setdefault(name, PipelineSums())
        mine.records += s.records
        mine.bytes += s.bytes
        mine.state_commits += s.state_commits
        mine.running += s.running
        mine.queued += s.queued


def _add_streams(into: dict[tuple[str, str], int], more: list[StreamTotals]) -> None:
    for st in more:
        into[(st.pipeline, st.stream)] = into.get((st.pipeline, st.stream), 0) + st.records


class SettledTotals:
    def __init__(self) -> None:
        self.line: datetime | None = None
        self._executions: dict[tuple[str, str], ExecutionTotals] = {}
        self._sums: dict[str, PipelineSums] = {}
        self._streams: dict[tuple[str, str], int] = {}
        self._lock = asyncio.Lock()

    async def read(
        self, repo: TotalsRepository, now: datetime
    ) -> tuple[list[ExecutionTotals], dict[str, PipelineSums], list[StreamTotals]]:
        """The totals of the whole history: the settled part (moved forward first, when it
        can be) and the live part read now."""
        async with self._lock:
            await self._advance(repo, now)
            line = self.line
            executions = dict(self._executions)
            sums: dict[str, PipelineSums] = defaultdict(PipelineSums)
            _add_sums(sums, self._sums)
            streams = dict(self._streams)
        live, live_sums = await repo.executions(since=line)
        _add_executions(executions, live)
        _add_sums(sums, live_sums)
        _add_streams(streams, await repo.streams(since=line))
        return (
            list(executions.values()),
            dict(sums),
            [StreamTotals(p, s, n) for (p, s), n in streams.items()],
        )

    async def _advance(self, repo: TotalsRepository, now: datetime) -> None:
        oldest = await repo.oldest_active()
        target = now - MARGIN if oldest is None else min(now - MARGIN, oldest)
        if self.line is not None and target <= self.line:
            return
        done, done_sums = await repo.executions(since=self.line, before=target)
        streams = await repo.streams(since=self.line, before=target)
        _add_executions(self._executions, done)
        _add_sums(self._sums, done_sums)
        _add_streams(self._streams, streams)
        self.line = target

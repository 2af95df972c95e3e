"""Showing a run while it goes: a rich live table on a terminal, plain lines otherwise."""

from __future__ import annotations

import time
from typing import Any

import click


def _rate(records: int, elapsed: float) -> str:
    return f"{records / elapsed:,.0f}/s" if elapsed > 0 else "-"


class PlainProgress:
    """One line every few seconds, and at the state commits; for logs and pipes."""

    def __init__(self, every: float = 5.0) -> None:
        self.every = every
        self._last = 0.0
        self.commits = 0

    def started(self, execution: Any) -> None:
        return None  # the summary names the execution; a failed preparation stays one line

    def warning(self, message: str) -> None:
        click.echo(f"warning: {message}", err=True)

    def waiting(self, reason: str) -> None:
        click.echo(f"queued: {reason}", err=True)

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        now = time.monotonic()
        if now - self._last < self.every:
            return
        self._last = now
        total = sum(records.values())
        streams = ", ".join(f"{k}={v:,}" for k, v in sorted(records.items()))
        click.echo(
            f"[{elapsed:6.1f}s] {total:,} records ({_rate(total, elapsed)}) {streams}", err=True
        )

    def state_committed(self, version: int) -> None:
        self.commits += 1

    def finished(self, execution: Any, result: Any) -> None:
        return None


class LiveProgress:
    """A rich live view: per-stream records, rate, elapsed time and state commits."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.live import Live

        self.console = Console(stderr=True)
        self.live = Live(console=self.console, refresh_per_second=4, transient=False)
        self.records: dict[str, int] = {}
        self.elapsed = 0.0
        self.commits = 0
        self.title = ""

    def _render(self) -> Any:
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        table.add_column("stream")
        table.add_column("records", justify="right")
        table.add_column("rate", justify="right")
        for stream, count in sorted(self.records.items()):
            table.add_row(stream, f"{count:,}", _rate(count, self.elapsed))
        total = sum(self.records.values())
        table.add_section()
        table.add_row("[bold]total", f"[bold]{total:,}", _rate(total, self.elapsed))
        table.caption = f"elapsed {self.elapsed:.1f}s · state commits {self.commits}"
        return table

    def started(self, execution: Any) -> None:
        self.title = f"{execution.pipeline_name} · run {execution.id[:12]}"
        self.live.start()
        self.live.update(self._render())

    def warning(self, message: str) -> None:
        self.console.print(f"[yellow]warning:[/] {message}")

    def waiting(self, reason: str) -> None:
        self.console.print(f"[dim]queued:[/] {reason}")

    def progress(self, records: dict[str, int], bytes_: int, states: int, elapsed: float) -> None:
        self.records, self.elapsed = records, elapsed
        self.live.update(self._render())

    def state_committed(self, version: int) -> None:
        self.commits += 1

    def finished(self, execution: Any, result: Any) -> None:
        if result is not None:
            self.records = dict(result.records)
            self.elapsed = result.duration
        self.live.update(self._render())
        self.live.stop()

"""Charts drawn on the server as SVG: numbers in, shapes out (no script, no build step)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    value: int
    title: str


@dataclass(frozen=True)
class BarChart:
    width: int
    height: int
    baseline: float
    bars: list[Bar]
    top_label: str


def _short(value: int) -> str:
    for size, unit in ((1_000_000_000, "G"), (1_000_000, "M"), (1_000, "k")):
        if value >= size:
            return f"{value / size:.1f}".rstrip("0").rstrip(".") + unit
    return str(value)


def records_chart(days: list[tuple[date, int]], width: int = 720, height: int = 220) -> BarChart:
    """One bar per day, labelled with the day of the month, scaled to the busiest day."""
    left, bottom, top = 40.0, 24.0, 14.0
    plot = height - bottom - top
    most = max((v for _, v in days), default=0) or 1
    step = (width - left) / max(len(days), 1)
    bars = []
    for i, (day, value) in enumerate(days):
        h = plot * value / most
        bars.append(
            Bar(
                x=left + i * step + step * 0.15,
                y=top + plot - h,
                width=step * 0.7,
                height=h,
                label=day.strftime("%d"),
                value=value,
                title=f"{day.isoformat()}: {value:,} records",
            )
        )
    return BarChart(width, height, top + plot, bars, _short(most))

"""What the pages compute to show data: lengths of time, the records chart, state diffs."""

from __future__ import annotations

from datetime import UTC, date, datetime

from flx_core.domain.ports import StateVersion
from flx_web.charts import records_chart
from flx_web.templatetags.flx import seconds
from flx_web.views.state import diff_lines


def test_lengths_of_time_read_as_people_say_them() -> None:
    shown = [seconds(s) for s in (3.24, 45, 60, 250, 3600, 86_400, 200_000, None)]
    assert shown == ["3.2 s", "45 s", "1 min", "4 min 10 s", "1 h", "24 h", "2 d 7 h", "—"]


def test_the_records_chart_scales_bars_to_the_busiest_day() -> None:
    days = [(date(2026, 11, d), n) for d, n in ((1, 0), (2, 500), (3, 1000))]
    chart = records_chart(days, width=340, height=124)
    empty, half, full = chart.bars
    assert empty.height == 0 and full.height == 2 * half.height > 0
    assert full.y + full.height == chart.baseline  # bars stand on the axis
    assert [b.label for b in chart.bars] == ["01", "02", "03"]
    assert chart.top_label == "1k" and "1,000 records" in full.title
    assert records_chart([]).bars == []  # no day, no division by zero
    assert all(b.height == 0 for b in records_chart(days[:1]).bars)


def test_the_difference_of_two_state_versions() -> None:
    at = datetime(2026, 11, 1, tzinfo=UTC)
    old = StateVersion(state_id="s", version=1, value={"a": 1, "b": 2}, created_at=at)
    new = StateVersion(state_id="s", version=2, value={"a": 1, "b": 3}, created_at=at)
    kinds = {(kind, line.strip()) for kind, line in diff_lines(old, new)}
    assert ("del", '-  "b": 2') in kinds and ("add", '+  "b": 3') in kinds
    assert diff_lines(old, old) == []

from datetime import UTC, datetime

import pytest
from hypothesis import given, strategies as st
from pydantic import ValidationError

from flx_core.domain import CronExpression, Duration, ExecutionStatus, PipelineName


@pytest.mark.parametrize("name", ["demo", "a", "tap-to-pg_2", "0day"])
def test_pipeline_name_accepts_lowercase_digits_dash_underscore(name: str) -> None:
    assert PipelineName(value=name).value == name


@pytest.mark.parametrize("name", ["", "Demo", "has space", "-lead", "dot.name", "x" * 64, "é"])
def test_pipeline_name_rejects_other_characters(name: str) -> None:
    with pytest.raises(ValidationError, match="invalid pipeline name"):
        PipelineName(value=name)


@given(st.from_regex(r"[a-z0-9][a-z0-9_-]{0,62}", fullmatch=True))
def test_every_well_formed_name_is_accepted(name: str) -> None:
    assert str(PipelineName(value=name)) == name


def test_value_objects_are_frozen() -> None:
    name = PipelineName(value="demo")
    with pytest.raises(ValidationError):
        name.value = "other"  # type: ignore[misc]


def test_duration_between_and_format() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, 1, 2, 3, tzinfo=UTC)
    d = Duration.between(start, end)
    assert d.seconds == 3723
    assert str(d) == "1h02m03s"
    assert str(Duration(seconds=5.25)) == "5.2s"
    with pytest.raises(ValidationError):
        Duration(seconds=-1)


def test_cron_expression_validates_and_computes_next() -> None:
    cron = CronExpression(value="*/15  * * * *")
    assert cron.value == "*/15 * * * *"
    nxt = cron.next_after(datetime(2026, 1, 1, 10, 7, tzinfo=UTC))
    assert nxt == datetime(2026, 1, 1, 10, 15, tzinfo=UTC)
    with pytest.raises(ValidationError, match="invalid cron expression"):
        CronExpression(value="61 * * * *")


legal = {
    ("pending", "queued"),
    ("pending", "running"),
    ("pending", "cancelled"),
    ("pending", "failed"),
    ("queued", "running"),
    ("queued", "cancelled"),
    ("queued", "failed"),
    ("running", "succeeded"),
    ("running", "failed"),
    ("running", "cancelled"),
}


@pytest.mark.parametrize("old", list(ExecutionStatus))
@pytest.mark.parametrize("new", list(ExecutionStatus))
def test_status_transitions_table(old: ExecutionStatus, new: ExecutionStatus) -> None:
    assert old.can_become(new) == ((old.value, new.value) in legal)


def test_terminal_statuses() -> None:
    assert {s for s in ExecutionStatus if s.is_terminal} == {
        ExecutionStatus.SUCCEEDED,
        ExecutionStatus.FAILED,
        ExecutionStatus.CANCELLED,
    }

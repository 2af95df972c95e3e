"""The data path: records reach the target, are counted per stream, states come back."""

from __future__ import annotations

from typing import Any

from flx_meltano.runner import Progress, RunSpec, RunStatus, run


async def test_counts_records_per_stream_in_every_key_order(tap, target) -> None:
    specs = [
        tap("--records", "60000", "--streams", "users,orders", "--form", "spaced"),
        tap("--records", "700", "--streams", "events", "--form", "compact"),
        tap("--records", "300", "--streams", "legacy", "--form", "reversed"),
    ]
    expected = [{"users": 60000, "orders": 60000}, {"events": 700}, {"legacy": 300}]
    for tap_spec, records in zip(specs, expected, strict=True):
        result = await run(RunSpec(tap=tap_spec, target=target()))
        assert result.status is RunStatus.SUCCEEDED, result.error
        assert dict(result.records) == records
        assert result.last_state["streams"] == records
        assert result.bytes == result.last_state["bytes"]


async def test_states_reach_the_callback_in_order(tap, target) -> None:
    seen: list[Any] = []

    async def on_state(value: Any) -> None:
        seen.append(value)

    spec = RunSpec(
        tap=tap("--records", "50"), target=target("--state-every", "5"), on_state=on_state
    )
    result = await run(spec)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert [s["records"] for s in seen[:-1]] == list(range(5, 55, 5))
    assert seen[-1]["records"] == 50
    assert result.states_emitted == len(seen) == 11
    assert result.last_state == seen[-1]


async def test_a_plain_function_can_take_states(tap, target) -> None:
    seen: list[Any] = []
    result = await run(RunSpec(tap=tap("--records", "3"), target=target(), on_state=seen.append))
    assert result.succeeded
    assert seen == [result.last_state]


async def test_a_100_mb_record_passes(tap, target) -> None:
    result = await run(RunSpec(tap=tap("--big-record-mb", "100"), target=target("--raw")))
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.records == {"big": 1}
    assert result.last_state["lines"] == 2
    assert result.last_state["bytes"] == result.bytes > 100 * (1 << 20)


async def test_mappers_sit_between_tap_and_target(tap, mapper, target) -> None:
    spec = RunSpec(
        tap=tap("--records", "3"),
        mappers=(mapper(name="upper-1"), mapper(name="upper-2")),
        target=target(),
    )
    result = await run(spec)
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.last_state["names"] == ["N0", "N1", "N2"]
    assert [p.name for p in result.processes] == ["tap-test", "upper-1", "upper-2", "target-test"]
    assert all(p.exit_code == 0 for p in result.processes)


async def test_a_final_message_without_newline_is_passed_on(tap, target) -> None:
    result = await run(RunSpec(tap=tap("--records", "2", "--no-final-newline"), target=target()))
    assert result.status is RunStatus.SUCCEEDED, result.error
    assert result.records == {"users": 3}
    assert result.last_state["records"] == 3


async def test_progress_reports_the_counters(tap, target) -> None:
    reports: list[Progress] = []
    spec = RunSpec(
        tap=tap("--records", "40"),
        target=target(),
        on_progress=reports.append,
        progress_interval=0.01,
    )
    result = await run(spec)
    assert result.succeeded
    assert reports[-1].records == {"users": 40}
    assert reports[-1].record_count == 40
    assert reports[-1].bytes == result.bytes

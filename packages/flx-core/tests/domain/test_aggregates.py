from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from flx_core.domain import (
    MASK,
    ExecutionStatus,
    InvalidTransition,
    Pipeline,
    PipelineExecution,
    Plugin,
    PluginSetting,
    PluginType,
    ResultError,
    ServiceResult,
    SettingKind,
    ValidationFailed,
)
from flx_core.domain.events import (
    ExecutionFailed,
    ExecutionStarted,
    ExecutionSucceeded,
    PipelineCreated,
    PipelineUpdated,
)


def make_pipeline(**kw: object) -> Pipeline:
    fields = {"name": "demo", "extractor": "tap-a", "loader": "target-b"} | kw
    return Pipeline.create(**fields)


def test_created_pipeline_records_event_and_defaults_state_id() -> None:
    p = make_pipeline()
    assert p.state_id == "demo"
    events = p.pull_events()
    assert [type(e) for e in events] == [PipelineCreated]
    assert events[0].aggregate_id == p.id
    assert p.pull_events() == []


def test_update_records_only_real_changes() -> None:
    p = make_pipeline()
    p.pull_events()
    assert p.update(description="") == {}
    assert p.pull_events() == []
    changed = p.update(description="nightly", enabled=False)
    assert changed == {"description": "nightly", "enabled": False}
    (event,) = p.pull_events()
    assert isinstance(event, PipelineUpdated)
    assert event.changes == {"description": "nightly", "enabled": False}


def test_invalid_update_changes_nothing() -> None:
    p = make_pipeline(description="keep")
    with pytest.raises(ValidationError):
        p.update(description="new", schedule={"value": "not a cron"})
    assert p.description == "keep"
    assert p.schedule is None


def test_update_of_unknown_field_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="cannot update field"):
        make_pipeline().update(id="other")


def test_pipeline_rejects_bad_plugin_names_and_empty_select() -> None:
    with pytest.raises(ValidationError, match="plugin name"):
        make_pipeline(extractor="Tap A")
    with pytest.raises(ValidationError, match="empty select rule"):
        make_pipeline(select=["users.*", "!"])


def test_tags_are_deduplicated_and_sorted() -> None:
    assert make_pipeline(tags=["b", "a", "b", " "]).tags == ["a", "b"]


def make_execution() -> PipelineExecution:
    return PipelineExecution(pipeline_id="p1", pipeline_name="demo")


def test_execution_happy_path_records_events_and_duration() -> None:
    e = make_execution()
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    e.start(host="h", pid=42, now=t0)
    e.record_progress({"users": 3, "orders": 2}, state_commits=1, byte_count=100)
    e.succeed(exit_codes={"tap": 0, "target": 0}, now=t0.replace(second=30))
    assert e.status is ExecutionStatus.SUCCEEDED
    assert e.records == 5
    assert e.duration is not None and e.duration.seconds == 30
    kinds = [type(ev) for ev in e.pull_events()]
    assert kinds == [ExecutionStarted, ExecutionSucceeded]


@pytest.mark.parametrize("final", ["succeed", "fail", "cancel"])
def test_terminal_execution_cannot_move_again(final: str) -> None:
    e = make_execution()
    e.start()
    if final == "fail":
        e.fail("boom")
    else:
        getattr(e, final)()
    with pytest.raises(InvalidTransition, match="cannot go from"):
        e.start()
    with pytest.raises(InvalidTransition):
        e.succeed()


def test_pending_execution_cannot_succeed() -> None:
    with pytest.raises(InvalidTransition, match="pending to succeeded"):
        make_execution().succeed()


def test_failure_keeps_error_summary() -> None:
    e = make_execution()
    e.start()
    e.fail("tap-a exited 1: bad config", exit_codes={"tap": 1})
    events = e.pull_events()
    assert isinstance(events[-1], ExecutionFailed)
    assert e.error == "tap-a exited 1: bad config"
    assert e.exit_codes == {"tap": 1}


def test_cancel_request_running_vs_pending() -> None:
    running = make_execution()
    running.start()
    running.request_cancel()
    assert running.cancel_requested and running.status is ExecutionStatus.RUNNING
    pending = make_execution()
    pending.request_cancel()
    assert pending.status is ExecutionStatus.CANCELLED
    with pytest.raises(InvalidTransition, match="already ended"):
        pending.request_cancel()


def test_plugin_masks_secret_settings_and_derives_defaults() -> None:
    plugin = Plugin.create(
        plugin_type=PluginType.EXTRACTOR,
        name="tap-pg",
        settings=[
            PluginSetting(name="password", kind=SettingKind.SECRET),
            PluginSetting(name="host"),
        ],
    )
    assert plugin.executable == "tap-pg"
    assert plugin.namespace == "tap_pg"
    assert plugin.env_prefix() == "TAP_PG_"
    assert plugin.masked({"password": "hunter2", "host": "db"}) == {"password": MASK, "host": "db"}


def test_service_result_unwrap() -> None:
    assert ServiceResult.success(3).unwrap() == 3
    failed: ServiceResult[int] = ServiceResult.failure("nope", "not_found", {"id": "x"})
    assert failed.is_failure
    with pytest.raises(ResultError, match="nope") as info:
        failed.unwrap()
    assert info.value.code == "not_found"
    with pytest.raises(KeyError):
        failed.unwrap_or_raise(KeyError)
    assert failed.unwrap_or(7) == 7


def test_secrets_are_masked_in_output_and_in_the_audit_trail() -> None:
    p = make_pipeline(
        config={"tap-a": {"password": "hunter2", "host": "db", "url": "postgresql://u:pw123@db/x"}}
    )
    assert p.masked_config() == {
        "tap-a": {"password": MASK, "host": "db", "url": "postgresql://u:********@db/x"}
    }
    p.pull_events()
    p.update(config={"tap-b": {"api_token": "t0k!", "sqlalchemy_url": "postgresql://u:s3@h/d"}})
    (event,) = p.pull_events()
    text = repr(event.model_dump())
    assert "t0k!" not in text and "s3@" not in text
    assert p.config["tap-b"]["api_token"] == "t0k!", "the real value is kept for the run"

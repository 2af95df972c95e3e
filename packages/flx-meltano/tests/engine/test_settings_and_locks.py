"""Connector settings precedence and the liveness rules of the run lock."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import pytest

from flx_core.domain import (
    Pipeline,
    PipelineExecution,
    Plugin,
    PluginSetting,
    PluginType,
    SettingKind,
    ValidationFailed,
)
from flx_core.infrastructure.processes import pid_alive
from flx_meltano.locks import death_reason
from flx_meltano.plugin_settings import resolve_config


def make_plugin(**kw: object) -> Plugin:
    fields = {"plugin_type": PluginType.EXTRACTOR, "name": "tap-pg"} | kw
    return Plugin(**fields)


def test_precedence_defaults_pipeline_env() -> None:
    plugin = make_plugin(
        settings=[
            PluginSetting(name="port", kind=SettingKind.INTEGER, default=5432),
            PluginSetting(name="ssl", kind=SettingKind.BOOLEAN),
            PluginSetting(name="host"),
        ],
        config={"host": "plugin-default", "user": "a"},
    )
    pipeline = Pipeline(
        name="p",
        extractor="tap-pg",
        loader="t",
        config={"tap-pg": {"host": "from-pipeline", "user": "b"}},
    )
    env = {
        "TAP_PG_USER": "from-env",
        "TAP_PG_PORT": "6543",
        "TAP_PG_SSL": "true",
        "TAP_PG_EXTRA_THING": "x",
        "OTHER": "y",
    }
    assert resolve_config(plugin, pipeline, env) == {
        "port": 6543,
        "host": "from-pipeline",
        "user": "from-env",
        "ssl": True,
        "extra_thing": "x",
    }


def test_bad_env_value_names_the_variable() -> None:
    plugin = make_plugin(settings=[PluginSetting(name="port", kind=SettingKind.INTEGER)])
    with pytest.raises(ValidationFailed, match=r"TAP_PG_PORT must be an integer \(got .many.\)"):
        resolve_config(plugin, None, {"TAP_PG_PORT": "many"})


def test_missing_required_setting_is_named() -> None:
    plugin = make_plugin(
        settings=[PluginSetting(name="password", kind=SettingKind.SECRET, required=True)]
    )
    with pytest.raises(ValidationFailed, match=r"missing required setting.*password"):
        resolve_config(plugin, None, {})


def test_dead_pid_on_this_host_is_detected() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    now = datetime.now(UTC)
    execution = PipelineExecution(pipeline_id="p", pipeline_name="p")
    execution.start(host=socket.gethostname(), pid=proc.pid, now=now)
    assert not pid_alive(proc.pid)
    reason = death_reason(execution, now, 60, 3600)
    assert reason is not None and f"pid {proc.pid}" in reason


def test_live_or_fresh_executions_are_alive_and_stale_heartbeats_are_not() -> None:
    now = datetime.now(UTC)
    execution = PipelineExecution(pipeline_id="p", pipeline_name="p")
    execution.start(host=socket.gethostname(), pid=os.getppid(), now=now)
    assert death_reason(execution, now, 60, 3600) is None
    remote = PipelineExecution(pipeline_id="p", pipeline_name="p")
    remote.start(host="elsewhere", pid=1, now=now - timedelta(minutes=5))
    reason = death_reason(remote, now, 60, 3600)
    assert reason is not None and reason.startswith("worker lost: no heartbeat since")
    assert "FLX_HEARTBEAT_TIMEOUT=60s" in reason


def test_a_queued_execution_is_lost_only_when_no_worker_takes_it_or_its_holder_stops() -> None:
    now = datetime.now(UTC)
    waiting = PipelineExecution(pipeline_id="p", pipeline_name="p", created_at=now)
    waiting.enqueue()
    # In a broker's queue, nobody holds it: a long backlog is not a death...
    assert death_reason(waiting, now + timedelta(minutes=30), 60, 3600) is None
    # ...until no worker took it within the queue timeout.
    reason = death_reason(waiting, now + timedelta(hours=2), 60, 3600)
    assert reason is not None and reason.startswith("never started: no worker took it")
    # A worker holding it while it waits for its turn must keep beating.
    waiting.host, waiting.pid, waiting.heartbeat_at = "elsewhere", 1, now
    assert death_reason(waiting, now + timedelta(seconds=30), 60, 3600) is None
    reason = death_reason(waiting, now + timedelta(seconds=90), 60, 3600)
    assert reason is not None and reason.startswith("never started: no heartbeat since")

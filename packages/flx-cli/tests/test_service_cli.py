"""`flx run --detach`, idempotency keys, retries and run policies, as a user types them."""

from __future__ import annotations

import json
import os
import signal
import socket
import time
from typing import Any

import pytest

from flx_core.testing.processes import processes_with


def wait_ended(flx: Any, execution_id: str, deadline: float = 60) -> dict[str, Any]:
    end = time.monotonic() + deadline
    while time.monotonic() < end:
        shown = flx.show(execution_id)
        if shown["status"] in ("succeeded", "failed", "cancelled"):
            return shown
        time.sleep(0.3)
    raise AssertionError(f"execution {execution_id} did not end")


def test_detach_prints_the_id_at_once_and_the_run_goes_on_in_the_background(cli: Any) -> None:
    gate = cli.work / "gate"
    cli.add_fixture_pipeline("slow", rows=300, state_every=50, gate=str(gate))
    detached = cli("run", "slow", "--detach")
    execution_id = detached.stdout.strip()
    assert len(execution_id) == 32 and "flx execution logs" in detached.stderr
    # The run waits at its gate: the command returned before it ended.
    assert cli.show(execution_id)["status"] in ("queued", "running")
    gate.touch()
    followed = cli("execution", "logs", execution_id, "--follow")
    assert "tap_fixture: done" in followed.stdout
    shown = wait_ended(cli, execution_id)
    assert (shown["status"], shown["records"], shown["trigger"]) == ("succeeded", 300, "manual")
    assert cli.state() == {"bookmarks": {"items": {"position": 300}}}


def test_detach_reports_a_request_that_fails(cli: Any) -> None:
    result = cli("run", "ghost", "--detach", check=False)
    assert result.returncode == 1
    assert "pipeline 'ghost' not found" in result.stderr and not result.stdout


def test_an_idempotency_key_gives_a_repeated_request_the_same_execution(cli: Any) -> None:
    cli.add_fixture_pipeline("slow", rows=5)
    first = json.loads(cli("run", "slow", "--idempotency-key", "nightly-1", "--json").stdout)
    again = json.loads(cli("run", "slow", "--idempotency-key", "nightly-1", "--json").stdout)
    assert again["id"] == first["id"] and again["status"] == "succeeded"
    fresh = json.loads(cli("run", "slow", "--idempotency-key", "nightly-2", "--json").stdout)
    assert fresh["id"] != first["id"]
    listed = json.loads(cli("--json", "execution", "list", "-p", "slow").stdout)["items"]
    assert len(listed) == 2


def test_a_failing_run_is_retried_and_flx_run_follows_its_attempts(cli: Any) -> None:
    cli.add_fixture_pipeline("flaky", rows=10, fail_after=3)
    cli("pipeline", "update", "flaky", "--retries", "2", "--retry-delay", "0")
    result = cli("run", "flaky", check=False)
    assert result.returncode == 1
    assert "attempt 1 failed: " in result.stderr and "(attempt 2)" in result.stderr
    assert "attempt 2 failed: " in result.stderr and "(attempt 3)" in result.stderr
    listed = json.loads(cli("--json", "execution", "list", "-p", "flaky").stdout)["items"]
    attempts = sorted((e["attempt"], e["trigger"], e["status"]) for e in listed)
    assert attempts == [(1, "manual", "failed"), (2, "retry", "failed"), (3, "retry", "failed")]
    first = next(e for e in listed if e["attempt"] == 1)
    assert all(e["retry_of"] == first["id"] for e in listed if e["attempt"] > 1)
    shown = cli("execution", "show", first["id"]).stdout
    assert "retried as: " in shown and "attempt: 1" in shown


def test_execution_retry_runs_a_failed_execution_again(cli: Any) -> None:
    cli.add_fixture_pipeline("flaky", rows=10, fail_after=3)
    failed = json.loads(cli("run", "flaky", "--json", check=False).stdout)
    assert failed["status"] == "failed"
    cli("pipeline", "update", "flaky", "--config", "extractor.fail_after=100")
    retried = cli("execution", "retry", failed["id"][:12])
    assert "flaky: succeeded" in retried.stdout
    listed = json.loads(cli("--json", "execution", "list", "-p", "flaky").stdout)["items"]
    assert [(e["attempt"], e["retry_of"]) for e in listed] == [(2, failed["id"]), (1, None)]
    again = cli("execution", "retry", listed[0]["id"], check=False)
    assert again.returncode == 1 and "only a failed or cancelled execution" in again.stderr


def test_run_policy_options_are_kept_and_bad_values_refused(cli: Any) -> None:
    cli.add_fixture_pipeline("slow", rows=5)
    cli(
        "pipeline",
        "update",
        "slow",
        "--on-conflict",
        "queue",
        "--queue",
        "heavy",
        "--timezone",
        "Europe/Paris",
        "--catchup",
        "all",
    )
    shown = json.loads(cli("pipeline", "show", "slow", "--json").stdout)
    assert (shown["on_conflict"], shown["queue"], shown["timezone"], shown["catchup"]) == (
        "queue",
        "heavy",
        "Europe/Paris",
        "all",
    )
    bad = cli("pipeline", "update", "slow", "--timezone", "Mars/Olympus", check=False)
    assert bad.returncode != 0 and "unknown timezone 'Mars/Olympus'" in bad.stderr
    cleared = json.loads(cli("pipeline", "update", "slow", "--queue", "", "--json").stdout)
    assert cleared["queue"] is None


@pytest.mark.cold_only
def test_a_run_whose_process_was_killed_is_reaped_and_retried_in_the_background(
    cli: Any,
) -> None:
    gate = cli.work / "gate"
    cli.add_fixture_pipeline("slow", rows=200, state_every=20, gate=str(gate))
    cli("pipeline", "update", "slow", "--retries", "1", "--retry-delay", "0")
    proc = cli.start("run", "slow")
    try:
        # The run waits at its gate until the process running it is killed.
        execution_id = cli.wait_running()
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        gate.touch()
        listed = json.loads(cli("--json", "execution", "list", "-p", "slow").stdout)["items"]
        lost = next(e for e in listed if e["id"] == execution_id)
        assert lost["status"] == "failed"
        assert lost["error"] == (
            f"worker lost: the process running it (pid {proc.pid} on {socket.gethostname()}) "
            "is gone"
        )
        retry_id = lost["details"]["next_attempt"]
        retried = wait_ended(cli, retry_id)
        assert (retried["status"], retried["attempt"], retried["retry_of"]) == (
            "succeeded",
            2,
            execution_id,
        )
        assert cli.state() == {"bookmarks": {"items": {"position": 200}}}
    finally:
        proc.kill()
        for pid in processes_with(b"resume", f"FLX_HOME={cli.work / 'home'}"):
            os.kill(pid, signal.SIGKILL)

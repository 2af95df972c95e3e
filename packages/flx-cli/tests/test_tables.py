"""Tables readable at 80 columns: one line per row, ids whole enough to type back, timestamps
never split, text cut with an ellipsis; `--wide` shows everything. Short execution ids."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from flx_cli.output import Column, print_table

LONG_ID = "131108cee881417abb7f3e3b0d94c9fa"
ERROR = "environment variable TAP_Y_PORT must be an integer (got 'abc'), and more words"
COLUMNS = [
    Column("id", "id"),
    "pipeline",
    Column("status", "fixed"),
    Column("trigger", wide=True),
    Column("started", "time"),
    "error",
]
ROW = (LONG_ID, "a-pipeline-with-a-long-name", "succeeded", "manual", datetime.now(UTC), ERROR)


def table(capsys: pytest.CaptureFixture[str], *, wide: bool = False) -> list[str]:
    print_table("Executions", COLUMNS, [ROW, ROW], wide=wide)
    return capsys.readouterr().out.splitlines()


def test_a_table_fits_80_columns_one_line_per_row(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = table(capsys)
    assert len(lines) == 5  # title, header, rule, two rows
    assert all(len(line) <= 80 for line in lines)
    row = lines[3]
    assert row.startswith(LONG_ID[:12] + " ")
    assert LONG_ID not in row and "manual" not in row
    started = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)
    assert started is not None
    assert "…" in row and "succeeded" in row
    assert lines[1].split() == ["id", "pipeline", "status", "started", "error"]


def test_a_narrow_terminal_cuts_text_but_not_ids(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "40")
    row = table(capsys)[3]
    assert row.startswith(LONG_ID[:12])
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row)


def test_wide_shows_everything(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    lines = table(capsys, wide=True)
    assert lines[1].split() == ["id", "pipeline", "status", "trigger", "started", "error"]
    row = lines[3]
    assert LONG_ID in row and ERROR in row and "a-pipeline-with-a-long-name" in row
    assert ROW[4].isoformat() in row and "…" not in row


def test_plain_column_names_still_work(capsys: pytest.CaptureFixture[str]) -> None:
    print_table(None, ["a", "b"], [("x\ny", None)])
    assert capsys.readouterr().out.splitlines()[-1].split() == ["x", "y"]


@pytest.fixture
def ran(cli: Any, tmp_path: Path) -> Any:
    """Pipeline x (built-in connectors) after one run."""
    cli("pipeline", "create", "x", "-e", "tap-flx-sample", "-l", "target-flx-jsonl",
        "--config", f"loader.destination_path={tmp_path / 'out'}",
        "--config", "extractor.rows=2")  # fmt: skip
    cli("run", "x")
    return cli


def test_execution_list_piped_prints_usable_ids(ran: Any) -> None:
    env = {k: v for k, v in ran.env.items() if k != "COLUMNS"}
    listed = ran("execution", "list", env=env).stdout.splitlines()
    full = json.loads(ran("execution", "list", "--json").stdout)["items"][0]["id"]
    assert all(len(line) <= 80 for line in listed)
    row = next(line for line in listed if line.startswith(full[:12]))
    assert row.split()[:3] == [full[:12], "x", "succeeded"]
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d ", row)
    shown = ran("execution", "show", row.split()[0]).stdout
    assert f"(execution {full[:12]})" in shown
    wide = ran("execution", "list", "--wide", env=env).stdout
    assert full in wide and "manual" in wide


def test_short_ids_and_their_errors(ran: Any) -> None:
    full = json.loads(ran("execution", "list", "--json").stdout)["items"][0]["id"]
    assert json.loads(ran("execution", "show", full[:6], "--json").stdout)["id"] == full
    assert "tap-flx-sample" in ran("execution", "logs", full[:7]).stdout
    too_short = ran("execution", "show", full[:5], check=False)
    assert too_short.returncode == 1
    assert "a short id needs at least 6 characters" in too_short.stderr
    unknown = "ffffff" if not full.startswith("ffffff") else "eeeeee"
    missing = ran("execution", "cancel", unknown, check=False)
    assert (missing.returncode, missing.stderr) == (
        1,
        f"error: execution {unknown!r} not found\n",
    )


def test_logs_of_an_execution_without_a_log_fail_and_say_so(ran: Any) -> None:
    failed = ran("run", "x", env=dict(ran.env, TAP_FLX_SAMPLE_ROWS="many"), check=False)
    assert failed.returncode == 1
    listed = json.loads(ran("execution", "list", "--json").stdout)["items"]
    execution = next(e for e in listed if e["status"] == "failed")
    assert not Path(execution["log_path"]).exists()
    logs = ran("execution", "logs", execution["id"], check=False)
    assert logs.returncode == 1 and logs.stdout == ""
    assert logs.stderr.startswith(f"error: execution {execution['id'][:12]} has no log: ")
    assert "TAP_FLX_SAMPLE_ROWS" in logs.stderr
    assert "log:" not in failed.stdout  # the summary names no log file that does not exist

"""The run log file is owner-only: connectors may print what their config holds."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from flx_meltano.runner.logsink import LogSink


def test_the_log_and_its_directories_are_owner_only(tmp_path: Path) -> None:
    old = os.umask(0o022)
    try:
        sink = LogSink(tmp_path / "home" / "logs" / "p1" / "e1.log")
        sink.event("started")
        sink.close()
    finally:
        os.umask(old)
    log = tmp_path / "home" / "logs" / "p1" / "e1.log"
    assert log.read_text().endswith(" flx | started\n")
    assert stat.S_IMODE(log.stat().st_mode) == 0o600
    for directory in (log.parent, log.parent.parent):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700

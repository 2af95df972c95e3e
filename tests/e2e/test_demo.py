"""`flx demo` on a fresh FLX_HOME: a full first run, then an incremental one."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

FLX = str(Path(sys.executable).parent / "flx")


def test_demo_twice(tmp_path: Path) -> None:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("FLX_") and k not in ("DATABASE_URL", "REDIS_URL")
    }
    env["FLX_HOME"] = str(tmp_path / "home")
    env["FLX_DAEMON"] = "off"  # each run in its own process (the daemon has its own tests)
    first = subprocess.run(
        [FLX, "demo", "--rows", "2000"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert first.returncode == 0, first.stderr
    assert "total: 6,000 records" in first.stdout
    assert "run kind: full (first run)" in first.stdout
    # It ends by telling how to open the dashboard.
    assert "then `flx serve` and open http://127.0.0.1:8000/" in first.stdout.splitlines()[-1]
    second = subprocess.run(
        [FLX, "demo"], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert second.returncode == 0, second.stderr
    assert "run kind: incremental (from the stored bookmark)" in second.stdout
    assert "total: 30,000 records" in second.stdout
    db = sqlite3.connect(tmp_path / "home" / "demo.db")
    for table in ("users", "orders", "events"):
        count, distinct = db.execute(f"SELECT count(*), count(DISTINCT id) FROM {table}").fetchone()
        assert count == distinct == 12_000
    db.close()

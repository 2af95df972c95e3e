"""Whether a process of this host still runs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

from flx_core.infrastructure.processes import pid_alive


def test_a_running_process_is_alive_and_an_ended_one_is_not() -> None:
    assert pid_alive(os.getpid())
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert pid_alive(proc.pid)
    finally:
        proc.kill()
        proc.wait()
    assert not pid_alive(proc.pid)


def test_a_zombie_is_not_alive() -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    # Not waited for yet: the process has ended but still answers signal 0.
    while time.monotonic() < deadline:
        with open(f"/proc/{proc.pid}/stat", encoding="ascii") as fh:
            if fh.read().split(") ", 1)[1][:1] == "Z":
                break
        time.sleep(0.05)
    try:
        os.kill(proc.pid, 0)  # the kernel still knows it
        assert not pid_alive(proc.pid)
    finally:
        proc.wait()

"""A worker's pool child dies with the worker's main process, even on kill -9."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time

import pytest

from flx_core.testing.processes import alive

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG")

#: A "worker": starts a "pool child" that calls die_with(its parent), prints the child's
#: pid once the child is set up, then sleeps until it is killed.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1]], stdout=subprocess.PIPE, text=True)
assert child.stdout.readline().strip() == "ready"
print(child.pid, flush=True)
time.sleep(120)
"""
CHILD = """
import os, time
from flx_meltano.distributed.child import die_with
die_with(os.getppid())
print("ready", flush=True)
time.sleep(120)
"""


def test_a_child_that_set_die_with_its_parent_dies_when_the_parent_is_killed() -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD], stdout=subprocess.PIPE, text=True
    )
    child_pid = 0
    try:
        assert parent.stdout is not None
        child_pid = int(parent.stdout.readline())
        assert alive(child_pid)
        os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while alive(child_pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not alive(child_pid), "the child outlived its killed parent"
    finally:
        parent.kill()
        parent.wait()
        assert parent.stdout is not None
        parent.stdout.close()
        if child_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child_pid, signal.SIGKILL)


def test_a_child_whose_parent_is_already_gone_dies_at_once() -> None:
    """The race between fork and the setting: the parent died before it took effect."""
    script = (
        "from flx_meltano.distributed.child import die_with\n"
        "die_with(1)\n"  # not our parent: as if the real one had died already
        "print('survived', flush=True)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=30, check=False
    )
    assert done.returncode == -signal.SIGKILL
    assert "survived" not in done.stdout

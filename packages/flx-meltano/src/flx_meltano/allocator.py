"""Keep freed memory in the process instead of handing it back to the kernel at once.

Data paths here allocate and free megabyte buffers (1 MiB reads, joined write batches) many
times a second. With glibc's defaults each such buffer is mmap-ed and munmap-ed, and every
page is faulted in again: on the virtual machines measured here that was half of a target's
run time. Raising the mmap and trim thresholds (as MALLOC_MMAP_THRESHOLD_ and
MALLOC_TRIM_THRESHOLD_ would) removes that cost; elsewhere this does nothing.
"""

from __future__ import annotations

import ctypes
import sys

M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_THRESHOLD = -3
THRESHOLD = 256 * 1024 * 1024


def tune_allocator() -> bool:
    """True when glibc's malloc accepted the settings."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        # glibc's soname; ctypes.util.find_library would run `ldconfig -p` on every start.
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    ok = True
    for option, value in (
        (M_MMAP_THRESHOLD, THRESHOLD),
        (M_TRIM_THRESHOLD, THRESHOLD),
        (M_TOP_PAD, 64 * 1024 * 1024),
    ):
        ok = bool(mallopt(option, value)) and ok
    return ok

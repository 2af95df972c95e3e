"""Keeping freed heap memory in the process while a connector streams.

A target allocates and frees a few MiB of objects per input batch. glibc's malloc gives the
top of the heap back to the kernel whenever more than 128 KiB of it is free, so every batch
faults the same pages in again; in a virtual machine that page-fault churn cost as much as
the parsing itself. Asking malloc to keep a top pad of freed memory removes it.
"""

from __future__ import annotations

import sys

M_TOP_PAD = -2
TOP_PAD_BYTES = 32 << 20


def keep_freed_memory() -> None:
    """Best effort: only glibc's malloc has this knob; elsewhere nothing happens."""
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").mallopt(M_TOP_PAD, TOP_PAD_BYTES)
    except (OSError, AttributeError):
        pass

"""Whether a process group still has a living member.

``killpg(pgid, 0)`` also succeeds while the only members are zombies waiting for init to
collect them, which some container inits do only every few seconds. Where ``/proc``
exists, members are looked up there and zombies do not count.
"""

from __future__ import annotations

import contextlib
import os

_PROC = "/proc"


def group_has_members(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return _living_member(pgid)


def _living_member(pgid: int) -> bool:
    if not os.path.isdir(_PROC):
        return True
    with os.scandir(_PROC) as entries:
        for entry in entries:
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError, ValueError, IndexError):
                with open(f"{_PROC}/{entry.name}/stat", "rb") as f:
                    fields = f.read().rsplit(b")", 1)[1].split()
                state, group = fields[0], int(fields[2])
                if group == pgid and state not in (b"Z", b"X"):
                    return True
    return False

"""Looking at processes from tests (Linux ``/proc``): whether one lives, its parent, and
the processes a test started (found by their command line and environment), so a test can
prove it left nothing behind and kill what it did."""

from __future__ import annotations

from pathlib import Path


def _stat_fields(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name (state first)."""
    return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1].split()


def alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie does not)."""
    try:
        return _stat_fields(pid)[0] != "Z"
    except FileNotFoundError:
        return False


def parent_of(pid: int) -> int:
    return int(_stat_fields(pid)[1])


def processes_with(cmdline_part: bytes, environ_entry: str) -> list[int]:
    """Living processes of this user whose command line holds ``cmdline_part`` and whose
    initial environment holds ``environ_entry`` (``NAME=value``)."""
    wanted = environ_entry.encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if cmdline_part not in (entry / "cmdline").read_bytes():
                continue
            environ = (entry / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if wanted in environ and alive(int(entry.name)):
            found.append(int(entry.name))
    return found

"""Errors of the runner.

``RunnerError`` subclasses are raised to the caller when a run cannot start. The others are
failures inside a run: the manager catches them and turns them into a failed ``RunResult``.
"""

from __future__ import annotations

import signal


class RunnerError(Exception):
    """A run could not be started."""


class ExecutableNotFoundError(RunnerError):
    def __init__(self, process: str, executable: str) -> None:
        super().__init__(f"{process}: executable {executable!r} not found or not executable")
        self.process = process
        self.executable = executable


class ProcessStartError(RunnerError):
    def __init__(self, process: str, reason: str) -> None:
        super().__init__(f"{process}: could not start: {reason}")
        self.process = process


class RunFailure(Exception):
    """Something inside a run went wrong; its message goes into the error summary."""


class ProcessFailed(RunFailure):
    """A process ended on its own with a non-zero code, or was killed by a signal the
    runner did not send (a negative code)."""

    def __init__(self, process: str, exit_code: int) -> None:
        super().__init__(describe_exit(process, exit_code))
        self.process = process
        self.exit_code = exit_code


class TruncatedOutputError(RunFailure):
    def __init__(self, process: str, size: int, preview: bytes) -> None:
        super().__init__(
            f"{process} ended its output with an incomplete line of {size} bytes "
            f"(no trailing newline): {preview!r}"
        )
        self.process = process


class DownstreamClosedError(RunFailure):
    """The first process after the tap closed its input while the tap was still writing,
    and did not fail on its own."""

    def __init__(self, process: str) -> None:
        super().__init__(f"{process} stopped reading its input before the tap finished")
        self.process = process


class StateCallbackError(RunFailure):
    def __init__(self, reason: BaseException) -> None:
        super().__init__(f"handling a STATE message failed: {reason!r}")


def describe_exit(process: str, code: int) -> str:
    """``tap-x exited with code 1``, or ``target-y was killed by signal 9 (SIGKILL)``."""
    if code >= 0:
        return f"{process} exited with code {code}"
    try:
        name = f" ({signal.Signals(-code).name})"
    except ValueError:
        name = ""
    return f"{process} was killed by signal {-code}{name}"

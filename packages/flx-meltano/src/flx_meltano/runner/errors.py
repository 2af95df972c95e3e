"""Errors of the runner.

``RunnerError`` subclasses are raised to the caller when a run cannot start. The others are
failures inside a run: the manager catches them and turns them into a failed ``RunResult``.
"""

from __future__ import annotations


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
    def __init__(self, process: str, exit_code: int) -> None:
        super().__init__(f"{process} exited with code {exit_code}")
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
    def __init__(self, process: str) -> None:
        super().__init__(f"{process} stopped reading its input before the tap finished")
        self.process = process


class StateCallbackError(RunFailure):
    def __init__(self, reason: BaseException) -> None:
        super().__init__(f"handling a STATE message failed: {reason!r}")

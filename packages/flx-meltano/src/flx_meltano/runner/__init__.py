"""The Singer runner: ``tap | mappers | target`` with a fast, counted data path.

result = await run(RunSpec(tap=ProcessSpec("tap-x", ("tap-x", "--config", cfg)),
                           target=ProcessSpec("target-y", ("target-y", "--config", cfg2)),
                           on_state=commit_state, log_path=log))
"""

from flx_meltano.runner.config_files import PrivateFiles as PrivateFiles
from flx_meltano.runner.errors import (
    ExecutableNotFoundError as ExecutableNotFoundError,
    ProcessStartError as ProcessStartError,
    RunnerError as RunnerError,
)
from flx_meltano.runner.executables import resolve_executable as resolve_executable
from flx_meltano.runner.logsink import LogSink as LogSink
from flx_meltano.runner.result import (
    ProcessOutcome as ProcessOutcome,
    RunResult as RunResult,
    RunStatus as RunStatus,
)
from flx_meltano.runner.run import RunHandle as RunHandle, run as run, start as start
from flx_meltano.runner.spec import (
    ProcessSpec as ProcessSpec,
    Progress as Progress,
    ProgressCallback as ProgressCallback,
    RunSpec as RunSpec,
    StateCallback as StateCallback,
)

__all__ = [
    "ExecutableNotFoundError",
    "LogSink",
    "PrivateFiles",
    "ProcessOutcome",
    "ProcessSpec",
    "ProcessStartError",
    "Progress",
    "ProgressCallback",
    "RunHandle",
    "RunResult",
    "RunSpec",
    "RunStatus",
    "RunnerError",
    "StateCallback",
    "resolve_executable",
    "run",
    "start",
]

"""The error summary of a failed run: what failed first, then who else failed, then the
last stderr lines of the processes involved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flx_meltano.runner.errors import DownstreamClosedError
from flx_meltano.runner.process import ProcessBlock


def failure_summary(
    headline: str | None,
    failures: Sequence[BaseException],
    failed_processes: Sequence[ProcessBlock],
    tails: Mapping[str, tuple[str, ...]],
    *,
    tails_of: Sequence[str] = (),
) -> str:
    """``headline`` (a timeout) and the failures, then the stderr tails of the processes
    involved (and of ``tails_of``).

    "Stopped reading its input" is left out when that same process failed on its own,
    which says more.
    """
    failed_names = {b.name for b in failed_processes}
    lines: list[str] = [headline] if headline else []
    involved: list[str] = [*tails_of]
    for failure in failures:
        process = getattr(failure, "process", None)
        if isinstance(failure, DownstreamClosedError) and process in failed_names:
            continue
        if str(failure) not in lines:
            lines.append(str(failure))
        if isinstance(process, str):
            involved.append(process)
    for block in failed_processes:
        message = f"{block.name} exited with code {block.exit_code}"
        if message not in lines:
            lines.append(message)
        involved.append(block.name)
    for name in dict.fromkeys(involved):
        tail = tails.get(name, ())
        if tail:
            lines.append(f"--- last stderr lines of {name} ---")
            lines.extend(tail)
    return "\n".join(lines)

"""The error summary of a failed run: the cause first, then what else failed, then the
last stderr lines of the processes involved."""

from __future__ import annotations

from collections.abc import Mapping, Sequence


def failure_summary(
    headline: str | None,
    failures: Sequence[BaseException],
    tails: Mapping[str, tuple[str, ...]],
    *,
    tails_of: Sequence[str] = (),
) -> str:
    """``headline`` (a timeout) and the failures, in order, then the stderr tails of the
    processes involved (and of ``tails_of``)."""
    lines: list[str] = [headline] if headline else []
    involved: list[str] = [*tails_of]
    for failure in failures:
        if str(failure) not in lines:
            lines.append(str(failure))
        process = getattr(failure, "process", None)
        if isinstance(process, str):
            involved.append(process)
    for name in dict.fromkeys(involved):
        tail = tails.get(name, ())
        if tail:
            lines.append(f"--- last stderr lines of {name} ---")
            lines.extend(tail)
    return "\n".join(lines)

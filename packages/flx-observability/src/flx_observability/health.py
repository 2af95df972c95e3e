"""Health checks as a small framework: named probes with a timeout and a remedy, run at once.

A probe is a coroutine function that raises when what it checks is not usable, and may
return a short detail when it is (``"12.4 GiB free"``). The composition root builds the
list of a process (database, Redis, broker, disk space, scheduler and worker liveness) and
hands it to ``/health/ready``, the gRPC health service and `flx doctor`; each runs it with
``run_checks``. Details never show a password (connection strings are masked).
"""

from __future__ import annotations

import asyncio
import shutil
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

Probe = Callable[[], Awaitable[object]]


@dataclass(frozen=True)
class HealthCheck:
    """A named probe; ``remedy`` tells an operator what to do when it fails."""

    name: str
    probe: Probe
    timeout: float = 3.0
    remedy: str = ""


@dataclass(frozen=True)
class CheckResult:
    name: str
    ok: bool
    #: What the probe found (its detail, or why it failed), one line.
    detail: str
    #: What to do about a failure (empty when ``ok``).
    remedy: str
    seconds: float


def _one_line(text: str) -> str:
    from flx_core.domain import mask_inline_secrets

    lines = [line for line in text.strip().splitlines() if line.strip()]
    return mask_inline_secrets(lines[0][:300]) if lines else ""


async def run_check(check: HealthCheck) -> CheckResult:
    started = time.perf_counter()
    try:
        found = await asyncio.wait_for(check.probe(), check.timeout)
    except TimeoutError:
        detail, ok = f"no answer within {check.timeout:g} s", False
    except Exception as exc:
        detail, ok = _one_line(str(exc)) or type(exc).__name__, False
    else:
        detail, ok = _one_line(str(found)) if found is not None else "ok", True
    return CheckResult(
        name=check.name,
        ok=ok,
        detail=detail,
        remedy="" if ok else check.remedy,
        seconds=round(time.perf_counter() - started, 3),
    )


async def run_checks(checks: Iterable[HealthCheck]) -> list[CheckResult]:
    """Every check at once, each bounded by its timeout; results in the checks' order."""
    return list(await asyncio.gather(*(run_check(c) for c in checks)))


def _size(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024:
            return f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def disk_space(path: Path, min_free_mb: int) -> Probe:
    """A probe: at least ``min_free_mb`` MiB free on the filesystem of ``path`` (its
    nearest existing parent)."""

    async def probe() -> str:
        where = path
        while not where.exists() and where != where.parent:
            where = where.parent
        usage = await asyncio.to_thread(shutil.disk_usage, where)
        free = f"{_size(usage.free)} free of {_size(usage.total)} under {path}"
        if usage.free < min_free_mb * 1024 * 1024:
            raise RuntimeError(f"only {free} (the threshold is {min_free_mb} MiB)")
        return free

    return probe

"""Run a tap's ``--discover`` once and keep the catalog (see ``cache`` for the file)."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from flx_meltano.catalog.cache import Command, command_argv, is_catalog, read_cache, write_cache
from flx_meltano.runner import LogSink, RunnerError, resolve_executable

TAIL_LINES = 20


class DiscoveryError(RunnerError):
    """Discovery failed; carries the exit code and the last stderr lines."""

    def __init__(
        self, message: str, *, exit_code: int | None = None, stderr_tail: Sequence[str] = ()
    ) -> None:
        details = "\n".join(stderr_tail)
        super().__init__(f"{message}\n--- last stderr lines ---\n{details}" if details else message)
        self.exit_code = exit_code
        self.stderr_tail = tuple(stderr_tail)


async def discover(
    command: Command,
    config_path: Path,
    *,
    cache_path: Path | None = None,
    refresh: bool = False,
    name: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    log_path: Path | None = None,
) -> dict[str, Any]:
    """The tap's catalog: from ``cache_path`` unless ``refresh``, else by running
    ``<command> --config <config_path> --discover`` (and then cached there).

    With ``log_path``, discovery's stderr and its exit are appended to that log (a run's
    log), so a discovery that fails can be read there."""
    argv = command_argv(command)
    label = name or Path(argv[0]).name
    if cache_path is not None and not refresh:
        cached = read_cache(cache_path)
        if cached is not None:
            return cached
    environment = {**os.environ, **(env or {})}
    executable = resolve_executable(label, argv[0], environment, cwd)
    stdout, stderr, code = await _run(
        [executable, *argv[1:], "--config", str(config_path), "--discover"],
        cwd=cwd,
        env=environment,
        timeout=timeout,
        label=label,
    )
    tail = _tail(stderr)
    if log_path is not None:
        _log(log_path, label, stderr, code)
    if code != 0:
        raise DiscoveryError(
            f"{label}: discovery exited with code {code}", exit_code=code, stderr_tail=tail
        )
    catalog = _parse(stdout, label, tail)
    if cache_path is not None:
        write_cache(cache_path, stdout)
    return catalog


def discover_catalog(
    command: Command,
    config_path: Path,
    *,
    cache_path: Path | None = None,
    refresh: bool = False,
    name: str | None = None,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Blocking form of :func:`discover`, for synchronous callers. It runs on an event
    loop of its own in a worker thread, so it also works under a running loop (which it
    then blocks: prefer ``await discover(...)`` there)."""
    call = discover(
        command,
        config_path,
        cache_path=cache_path,
        refresh=refresh,
        name=name,
        cwd=cwd,
        env=env,
        timeout=timeout,
    )
    with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="flx-discover") as pool:
        return pool.submit(asyncio.run, call).result()


async def _run(
    argv: list[str],
    *,
    cwd: Path | None,
    env: Mapping[str, str],
    timeout: float | None,
    label: str,
) -> tuple[bytes, bytes, int]:
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=dict(env),
        start_new_session=True,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        raise DiscoveryError(f"{label}: discovery timed out after {timeout:g} s") from None
    finally:
        # Also whatever the tap left behind in its process group.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        await asyncio.shield(process.wait())
    return stdout, stderr, await process.wait()


def _parse(stdout: bytes, label: str, tail: tuple[str, ...]) -> dict[str, Any]:
    try:
        catalog = orjson.loads(stdout)
    except orjson.JSONDecodeError as error:
        raise DiscoveryError(
            f"{label}: discovery did not print a JSON catalog ({error}); output starts with "
            f"{stdout[:80]!r}",
            exit_code=0,
            stderr_tail=tail,
        ) from None
    if not is_catalog(catalog):
        raise DiscoveryError(
            f"{label}: discovery printed JSON without a list of streams in 'streams'",
            exit_code=0,
            stderr_tail=tail,
        )
    return catalog  # type: ignore[no-any-return]


def _log(path: Path, label: str, stderr: bytes, code: int) -> None:
    sink = LogSink(path)
    try:
        sink.event(f"{label} --discover started")
        sink.write_lines(label, stderr.splitlines())
        sink.event(f"{label} --discover exited with code {code}")
    finally:
        sink.close()


def _tail(stderr: bytes) -> tuple[str, ...]:
    lines = stderr.decode("utf-8", "replace").splitlines()[-TAIL_LINES:]
    return tuple(line[:2000] for line in lines)

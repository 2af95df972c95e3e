"""Installing connectors: one virtual environment per plugin, built aside and swapped in.

``<plugins root>/<type>/<name>/venv``; a ``fingerprint.json`` beside it records what was
installed (pip_url, Python version), so an unchanged plugin is skipped. A new venv is built
in a temporary sibling directory and renamed into place only when the install succeeded, so
a failure leaves the previous venv (or none) and never a half-made one.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import shlex
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from flx_core.domain import Plugin
from flx_meltano.engine.commands import venv_dir

INSTALLER_VERSION = "1"
ERROR_TAIL = 40


@dataclass(frozen=True)
class InstallResult:
    name: str
    status: str  # installed | up_to_date | skipped | failed
    duration: float = 0.0
    error: str | None = None
    detail: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "name": self.name,
            "status": self.status,
            "duration": round(self.duration, 2),
            "error": self.error,
            "detail": self.detail,
        }


def fingerprint(plugin: Plugin, python: str) -> str:
    version = f"{sys.version_info.major}.{sys.version_info.minor}.{sys.version_info.micro}"
    raw = json.dumps([plugin.pip_url, python, version, INSTALLER_VERSION])
    return hashlib.sha256(raw.encode()).hexdigest()


def _stamp_path(plugin: Plugin, root: Path) -> Path:
    return venv_dir(plugin, root).parent / "fingerprint.json"


def is_current(plugin: Plugin, root: Path, python: str) -> bool:
    stamp = _stamp_path(plugin, root)
    executable = venv_dir(plugin, root) / "bin" / (plugin.executable or plugin.name)
    try:
        recorded = json.loads(stamp.read_text())["fingerprint"]
    except (OSError, ValueError, KeyError, TypeError):
        return False
    return bool(recorded == fingerprint(plugin, python) and executable.exists())


async def _run(argv: list[str], cwd: Path) -> tuple[int, str]:
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
    )
    out, _ = await proc.communicate()
    return proc.returncode or 0, out.decode("utf-8", "replace")


def _tail(text: str) -> str:
    return "\n".join(text.strip().splitlines()[-ERROR_TAIL:])


async def install_one(
    plugin: Plugin, root: Path, *, python: str = sys.executable, force: bool = False
) -> InstallResult:
    started = time.monotonic()
    if not plugin.pip_url:
        return InstallResult(plugin.name, "skipped", detail="no pip_url: runs from PATH")
    if not force and is_current(plugin, root, python):
        return InstallResult(plugin.name, "up_to_date")
    final = venv_dir(plugin, root)
    final.parent.mkdir(parents=True, exist_ok=True)
    # Console scripts carry the venv's absolute path in their shebang, so the venv is built
    # where it will live; the previous one waits aside and comes back if the build fails.
    backup = final.with_name(".venv-previous")
    shutil.rmtree(backup, ignore_errors=True)
    if final.exists():
        final.rename(backup)
    uv = shutil.which("uv")
    if uv:
        steps = [
            [uv, "venv", "--quiet", "--python", python, str(final)],
            [
                uv,
                "pip",
                "install",
                "--python",
                str(final / "bin" / "python"),
                *shlex.split(plugin.pip_url),
            ],
        ]
    else:
        steps = [
            [python, "-m", "venv", str(final)],
            [
                str(final / "bin" / "python"),
                "-m",
                "pip",
                "install",
                "--quiet",
                *shlex.split(plugin.pip_url),
            ],
        ]
    error: str | None = None
    try:
        for argv in steps:
            code, output = await _run(argv, final.parent)
            if code != 0:
                error = _tail(output) or f"{argv[0]} exited {code}"
                break
        else:
            error = _missing_executable(plugin, final)
    finally:
        if error is not None or not final.exists():
            shutil.rmtree(final, ignore_errors=True)
            if backup.exists():
                backup.rename(final)
        else:
            shutil.rmtree(backup, ignore_errors=True)
        if not any(final.parent.iterdir()):
            final.parent.rmdir()
    if error is not None:
        return InstallResult(plugin.name, "failed", time.monotonic() - started, error=error)
    _stamp_path(plugin, root).write_text(
        json.dumps(
            {
                "fingerprint": fingerprint(plugin, python),
                "pip_url": plugin.pip_url,
                "python": python,
            }
        )
    )
    return InstallResult(plugin.name, "installed", time.monotonic() - started)


def _missing_executable(plugin: Plugin, venv: Path) -> str | None:
    name = plugin.executable or plugin.name
    if (venv / "bin" / name).exists():
        return None
    found = sorted(
        p.name for p in (venv / "bin").iterdir() if p.name.startswith(("tap", "target", "map"))
    )
    hint = f" (it has: {', '.join(found)}; set --executable)" if found else ""
    return f"{plugin.pip_url!r} installed no executable named {name!r}{hint}"


async def install(
    plugins: list[Plugin],
    root: Path,
    *,
    parallel: int = 4,
    force: bool = False,
    python: str = sys.executable,
) -> list[InstallResult]:
    """Install several plugins, ``parallel`` at a time; one failure does not stop the rest."""
    gate = asyncio.Semaphore(parallel)

    async def one(plugin: Plugin) -> InstallResult:
        async with gate:
            return await install_one(plugin, root, python=python, force=force)

    return list(await asyncio.gather(*(one(p) for p in plugins)))

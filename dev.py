#!/usr/bin/env python3
"""Set up FLX's environment and run the demo or the whole test suite.

    python3 dev.py demo    # install everything, then run `flx demo`
    python3 dev.py test    # install everything, then lint, type-check and run every test

Needs only Python 3.11+ and access to the package registry: uv is installed into
``.tools/`` when it is not on PATH, and uv installs the locked dependencies into ``.venv``.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
TOOLS = ROOT / ".tools"


def sh(*args: str | Path, env: dict[str, str] | None = None) -> int:
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.call([str(a) for a in args], cwd=ROOT, env=env)


def must(*args: str | Path, env: dict[str, str] | None = None) -> None:
    code = sh(*args, env=env)
    if code != 0:
        sys.exit(code)


def uv() -> str:
    found = shutil.which("uv")
    if found:
        return found
    local = TOOLS / "bin" / "uv"
    if not local.exists():
        must(sys.executable, "-m", "venv", TOOLS)
        must(TOOLS / "bin" / "python", "-m", "pip", "install", "--quiet", "uv>=0.5")
    return str(local)


def setup() -> str:
    if sys.version_info < (3, 11):
        sys.exit("FLX needs Python 3.11 or newer")
    tool = uv()
    # Bytecode is compiled at install time: some environments forbid writing it later
    # (PYTHONDONTWRITEBYTECODE), which would cost every `flx` start seconds.
    must(
        tool, "sync", "--all-packages", "--frozen", "--compile-bytecode", "--python", sys.executable
    )
    # The workspace's own packages are installed editable; compile them too.
    sh(
        ROOT / ".venv" / "bin" / "python",
        "-m",
        "compileall",
        "-q",
        *sorted(str(p) for p in ROOT.glob("packages/*/src")),
    )
    return tool


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=3):
            return True
    except OSError:
        return False


def demo() -> None:
    tool = setup()
    env = dict(os.environ)
    env.setdefault("FLX_HOME", str(ROOT / ".flx"))
    must(tool, "run", "--frozen", "flx", "demo", env=env)


#: The browser the dashboard's tests drive (Debian's chromium package).
CHROMIUM = Path("/usr/bin/chromium")


def browser() -> None:
    """Install Chromium for the dashboard's browser tests when it is missing and this runs
    as root with apt (CI does); elsewhere those tests are skipped (failed under CI=true)."""
    if CHROMIUM.exists() or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    quiet = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    must("apt-get", "update", env=quiet)
    must("apt-get", "install", "-y", "chromium", env=quiet)


def test(extra: list[str]) -> None:
    tool = setup()
    env = dict(os.environ)
    # Connector installs in the tests use uv too, whether it came from PATH or from .tools.
    env["PATH"] = f"{Path(tool).parent}{os.pathsep}{env.get('PATH', '')}"
    ci = env.get("CI", "").lower() in ("1", "true", "yes")
    env.setdefault("FLX_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    env.setdefault("FLX_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
    if ci:
        missing = [
            name
            for name, port in (("PostgreSQL", 5432), ("Redis", 6379), ("RabbitMQ", 5672))
            if not reachable("127.0.0.1", port)
        ]
        if missing:
            sys.exit(f"CI needs {', '.join(missing)} on 127.0.0.1; not reachable")
    run = [tool, "run", "--frozen"]
    must(*run, "ruff", "check", ".")
    must(*run, "ruff", "format", "--check", ".")
    must(*run, "lint-imports")
    must(*run, "mypy", "packages/flx-core/src")
    # The committed gRPC code must be what the protos generate.
    must(*run, "python", "-m", "flx_grpc.compile", "--check")
    browser()
    code = sh(*run, "pytest", "-n", "2", "--dist", "loadgroup", *extra, env=env)
    if code == 5:
        sys.exit("pytest collected no tests: that is a failure")
    sys.exit(code)


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in ("demo", "test"):
        sys.exit(__doc__)
    if sys.argv[1] == "demo":
        demo()
    else:
        test(sys.argv[2:])


if __name__ == "__main__":
    main()

"""Finding the program a process runs, before anything starts."""

from __future__ import annotations

import os
import shutil
from collections.abc import Mapping
from pathlib import Path

from flx_meltano.runner.errors import ExecutableNotFoundError


def resolve_executable(
    name: str, argv0: str, env: Mapping[str, str], cwd: Path | None = None
) -> str:
    """The path ``argv0`` runs as, or ``ExecutableNotFoundError`` naming the process."""
    if "/" in argv0:
        path = Path(argv0) if cwd is None else cwd / argv0
        if path.is_file() and os.access(path, os.X_OK):
            return argv0
        raise ExecutableNotFoundError(name, argv0)
    found = shutil.which(argv0, path=env.get("PATH", os.defpath))
    if found is None:
        raise ExecutableNotFoundError(name, argv0)
    return found

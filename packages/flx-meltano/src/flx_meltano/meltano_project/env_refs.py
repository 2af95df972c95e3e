"""``$VAR`` and ``${VAR}`` references in config values, and the project's ``.env``.

A reference to a variable the project's ``env`` blocks define is resolved (it belongs to
the project). Any other stays a reference to the environment the run gets, unless the
import is asked to resolve it from the project's ``.env``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

_REF = re.compile(r"\$\{(\w+)\}|\$(\w+)")


def read_dotenv(path: Path) -> dict[str, str]:
    """``KEY=value`` lines (``export`` prefix, quotes and comments allowed)."""
    if not path.is_file():
        return {}
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def references(value: Any) -> set[str]:
    if not isinstance(value, str):
        return set()
    return {a or b for a, b in _REF.findall(value)}


def expand(value: Any, known: Mapping[str, str]) -> Any:
    """``value`` with the references to ``known`` variables replaced (others kept)."""
    if isinstance(value, dict):
        return {k: expand(v, known) for k, v in value.items()}
    if isinstance(value, list):
        return [expand(v, known) for v in value]
    if not isinstance(value, str):
        return value

    def sub(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(2)
        return known[name] if name in known else match.group(0)

    return _REF.sub(sub, value)

"""The process the dashboard serves in: its application (the buses) and settings.

The composition root builds the runtime (in the server's lifespan) and hands the dashboard
a callable that returns it, so the dashboard and the API share one runtime per process.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from flx_core.application import Application
from flx_core.config import FlxSettings


class RuntimeLike(Protocol):
    """What the dashboard needs of a built process (``flx_core.bootstrap.Runtime`` is one)."""

    app: Application
    settings: FlxSettings


RuntimeSource = Callable[[], RuntimeLike | None]


class Starting(Exception):
    """The process has no runtime yet (the server is starting) or any more (stopping)."""


class _Holder:
    source: RuntimeSource | None = None


_holder = _Holder()


def install(source: RuntimeSource) -> None:
    """Where the dashboard finds the runtime from now on."""
    _holder.source = source


def current() -> RuntimeLike:
    runtime = _holder.source() if _holder.source is not None else None
    if runtime is None:
        raise Starting("the server is starting; retry in a moment")
    return runtime

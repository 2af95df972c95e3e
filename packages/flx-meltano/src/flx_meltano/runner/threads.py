"""Blocking work in dedicated threads, awaited as asyncio futures.

The runner's threads block on pipes for the whole run, so they do not go to the default
executor, whose few workers would then be unavailable to the rest of the program.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def run_in_thread(fn: Callable[[], T], *, name: str) -> asyncio.Future[T]:
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, error: BaseException | None) -> None:
        if future.done():
            return
        if error is not None:
            future.set_exception(error)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def body() -> None:
        try:
            result = fn()
        except BaseException as error:
            call_in_loop(loop, settle, None, error)
        else:
            call_in_loop(loop, settle, result, None)

    threading.Thread(target=body, name=name, daemon=True).start()
    return future


def call_in_loop(loop: asyncio.AbstractEventLoop, fn: Callable[..., object], *args: object) -> None:
    """Schedule ``fn(*args)`` on ``loop`` from any thread; a closed loop drops the call."""
    with contextlib.suppress(RuntimeError):
        loop.call_soon_threadsafe(fn, *args)

"""Per-invocation state of the CLI and the bridge to the application (settings, bus, errors)."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import click

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_core.config import FlxSettings

T = TypeVar("T")

EXIT_ERROR = 1
EXIT_USAGE = 2


@dataclass
class CliContext:
    debug: bool = False
    verbose: bool = False
    json: bool = False
    _settings: FlxSettings | None = None

    def settings(self) -> FlxSettings:
        """The effective settings; a bad value stops with one line and exit code 2."""
        if self._settings is None:
            from flx_core.config import SettingsError, load_settings
            from flx_observability import configure_logging

            try:
                self._settings = load_settings()
            except SettingsError as exc:
                fail(str(exc), EXIT_USAGE)
            level = (
                "debug"
                if self.debug or self._settings.debug_mode
                else ("info" if self.verbose else self._settings.log_level)
            )
            configure_logging(level, self._settings.log_format)
        return self._settings

    def run(self, fn: Callable[[Runtime], Awaitable[T]], *, exclude: tuple[str, ...] = ()) -> T:
        """Build this process (a ``cli`` process, less the contexts in ``exclude``), run
        ``fn(runtime)`` on an event loop, clean up."""
        settings = self.settings()

        async def main() -> T:
            from flx_core.bootstrap import bootstrap

            runtime = await bootstrap(settings, exclude=exclude)
            try:
                return await fn(runtime)
            finally:
                await runtime.aclose()

        try:
            return asyncio.run(main())
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted", 130)
        except Exception as exc:
            if self.debug:
                raise
            fail(describe(exc))


def describe(exc: BaseException) -> str:
    """One line for an unexpected error, without secrets in connection strings."""
    from flx_core.config import mask_url

    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    for word in text.split():
        if "://" in word:
            text = text.replace(word, mask_url(word.strip("'\"(),")))
    return f"{type(exc).__name__}: {text} (run with --debug for the traceback)"


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


def unwrap(result: Any) -> Any:
    """The value of a ServiceResult, or stop with its message (exit 1)."""
    if not result.ok:
        fail(result.message or result.error_code or "failed")
    return result.value


def cli_context(ctx: click.Context) -> CliContext:
    obj = ctx.find_root().obj
    if not isinstance(obj, CliContext):
        obj = CliContext()
        ctx.find_root().obj = obj
    return obj


pass_cli = click.make_pass_decorator(CliContext, ensure=True)

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

#: The command groups that work against a server when one is given (``--server`` or
#: ``FLX_SERVER``). The others are about this machine (its database, keys, processes,
#: extensions) and run here whatever the server.
REMOTE_COMMANDS = frozenset(
    {"pipeline", "plugin", "run", "execution", "state", "schedule", "user", "auth", "import"}
)


def server_url(value: str | None) -> str | None:
    """The server a ``--server`` / ``FLX_SERVER`` value names (None when empty); a value
    that is no http(s) URL is a usage error."""
    if value is None or not value.strip():
        return None
    from urllib.parse import urlsplit

    url = value.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise click.BadParameter(
            f"{value!r} is not an http:// or https:// URL", param_hint="'--server' / FLX_SERVER"
        )
    return url


@dataclass
class CliContext:
    debug: bool = False
    verbose: bool = False
    json: bool = False
    #: The FLX server to work against (``--server`` / ``FLX_SERVER``), if any.
    server: str | None = None
    #: The command group invoked (``pipeline``, ``run``...).
    command: str | None = None
    _settings: FlxSettings | None = None

    @property
    def remote(self) -> bool:
        """Whether this command works against a server rather than this machine's FLX."""
        return self.server is not None and self.command in REMOTE_COMMANDS

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
        ``fn(runtime)`` on an event loop, clean up.

        Against a server (see :attr:`remote`) the runtime's application and executor are
        the server's, reached over HTTP, and the commands are none the wiser."""
        settings = self.settings()

        async def main() -> T:
            if self.remote:
                from flx_cli.remote import remote_runtime

                assert self.server is not None
                runtime = remote_runtime(settings, self.server, show_log=self.verbose)
            else:
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
            from flx_cli.remote.errors import RemoteError

            if isinstance(exc, RemoteError):  # the server unreachable, not logged in...
                fail(str(exc))
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

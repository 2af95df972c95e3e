"""How the built-in connectors fail: one clear stderr line and a non-zero exit code.

A connector runs as a child process whose stderr becomes the run's log, so a failure is a
single ``<program>: error: <what and where>`` line rather than a traceback; set
``FLX_CONNECTOR_DEBUG=1`` to get the traceback of an unexpected error as well.
"""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable

EXIT_ERROR = 1
EXIT_INTERNAL = 70
EXIT_INTERRUPTED = 130
DEBUG_VARIABLE = "FLX_CONNECTOR_DEBUG"


class ConnectorError(Exception):
    """A problem the user can act on; the message says what is wrong and where."""


class InputError(ConnectorError):
    """A bad line of Singer input."""

    def __init__(self, line: int, problem: str) -> None:
        super().__init__(f"line {line}: {problem}")
        self.line = line


def report(program: str, message: str) -> None:
    sys.stderr.write(f"{program}: error: {message}\n")
    sys.stderr.flush()


def run_connector(program: str, body: Callable[[list[str]], None], argv: list[str]) -> int:
    """Run ``body(argv)`` and turn every way it can fail into a message and an exit code."""
    try:
        body(argv)
        sys.stdout.flush()
    except ConnectorError as error:
        report(program, str(error))
        return EXIT_ERROR
    except BrokenPipeError:
        # The reader went away; point stdout at /dev/null so the interpreter's final flush
        # does not raise a second time.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        report(program, "standard output was closed by the reader")
        return EXIT_ERROR
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except OSError as error:
        report(program, f"{error.strerror or error} ({error.filename or 'I/O'})")
        return EXIT_ERROR
    except Exception as error:
        if os.environ.get(DEBUG_VARIABLE):
            traceback.print_exc()
        report(
            program,
            f"internal error: {type(error).__name__}: {error} "
            f"(set {DEBUG_VARIABLE}=1 for the traceback)",
        )
        return EXIT_INTERNAL
    return 0

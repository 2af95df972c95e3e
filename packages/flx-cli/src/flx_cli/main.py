"""Entry point of the flx command.

A command is first offered to the FLX daemon (a warm process that already imported FLX),
which saves the start-up of a cold process; see :mod:`flx_cli.daemon`. Help, the commands that
read passwords, and anything no daemon takes run here.
"""

import sys


def main() -> None:
    from flx_cli.daemon.client import main as through_daemon

    code = through_daemon(sys.argv[1:])
    if code is not None:
        sys.exit(code)

    from flx_cli.app import cli

    cli()

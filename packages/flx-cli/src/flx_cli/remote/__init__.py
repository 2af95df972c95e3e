"""The CLI against a server (``flx --server URL`` or ``FLX_SERVER``).

Commands stay the same: they get a ``Runtime`` whose application sends each message as its
REST call (:mod:`flx_cli.remote.application`) and whose executor follows runs on the server
(:mod:`flx_cli.remote.follow`), with the tokens of `flx auth login`
(:mod:`flx_cli.remote.credentials`, :mod:`flx_cli.remote.client`). The HTTP client is
imported only here, when a command runs against a server: `flx --help` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_core.config import FlxSettings


def remote_runtime(settings: FlxSettings, server: str, *, show_log: bool = False) -> Runtime:
    """A process whose application and executor are the server's (close it with
    ``aclose``); the settings stay this machine's (its FLX_HOME holds the credentials)."""
    from typing import cast

    from flx_cli.remote.application import RemoteApplication
    from flx_cli.remote.client import RemoteClient
    from flx_cli.remote.credentials import CredentialStore
    from flx_cli.remote.follow import RemoteFollower
    from flx_core.application import Application, ProcessKind
    from flx_core.bootstrap import Runtime

    client = RemoteClient(server, CredentialStore(settings.home_path))
    return Runtime(
        kind=ProcessKind.CLI,
        settings=settings,
        app=cast(Application, RemoteApplication(client)),
        engine=None,
        session_factory=None,
        url=client.server,
        executor=RemoteFollower(client, show_log=show_log),
        closers=[client.aclose],
    )

"""What an extension gets when it activates. Every registration goes through it and is
tracked, so deactivation undoes them all, whatever the extension's own ``deactivate`` does."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    import click

    from flx_core.application import Application

log = structlog.get_logger(__name__)

#: An in-process connector: a callable, or the argv of a console command.
ConnectorSpec = Callable[..., Any] | Sequence[str]


class ExtensionRegistry:
    """Contributions of active extensions that are not bus handlers: (extension, thing)."""

    def __init__(self) -> None:
        #: `flx` sub-commands by name.
        self.cli_commands: dict[str, tuple[str, click.Command]] = {}
        #: Connectors by name (informational for now).
        self.connectors: dict[str, tuple[str, ConnectorSpec]] = {}

    def commands(self) -> list[click.Command]:
        return [command for _, command in self.cli_commands.values()]


class ExtensionContext:
    """The extension's handle on the host.

    In a process without an application (the CLI collecting extension commands), bus
    registrations are skipped: ``has_bus`` tells an extension which case it is in.
    """

    def __init__(
        self,
        name: str,
        app: Application | None,
        registry: ExtensionRegistry,
        *,
        settings: Any = None,
        config: Mapping[str, Any] | None = None,
    ) -> None:
        self.name = name
        self.app = app
        self.registry = registry
        #: The FLX settings of the process (None in bare tests).
        self.settings = settings
        #: This extension's options (``[extensions.<name>]`` of ``extensions.toml``), read-only.
        self.config: Mapping[str, Any] = MappingProxyType(dict(config or {}))
        self.log = log.bind(extension=name)
        self._undo: list[Callable[[], None]] = []

    @property
    def has_bus(self) -> bool:
        return self.app is not None

    def register_command(self, command_type: Any, handler: Any) -> None:
        if self.app is not None:
            self._undo.append(self.app.register_command(command_type, handler).remove)

    def register_query(self, query_type: Any, handler: Any) -> None:
        if self.app is not None:
            self._undo.append(self.app.register_query(query_type, handler).remove)

    def subscribe(self, event_type: Any, handler: Any) -> None:
        if self.app is not None:
            self._undo.append(self.app.subscribe(event_type, handler).remove)

    def add_cli_command(self, command: click.Command) -> None:
        """Add ``command`` to ``flx`` (e.g. a group ``webhook`` gives ``flx webhook ...``)."""
        name = command.name or ""
        owner = self.registry.cli_commands.get(name)
        if owner is not None:
            raise ValueError(f"command {name!r} is already provided by extension {owner[0]!r}")
        self.registry.cli_commands[name] = (self.name, command)
        self._undo.append(lambda: self._forget(self.registry.cli_commands, name))

    def add_connector(self, name: str, spec: ConnectorSpec) -> None:
        owner = self.registry.connectors.get(name)
        if owner is not None:
            raise ValueError(f"connector {name!r} is already provided by extension {owner[0]!r}")
        self.registry.connectors[name] = (self.name, spec)
        self._undo.append(lambda: self._forget(self.registry.connectors, name))

    def _forget(self, table: dict[str, tuple[str, Any]], key: str) -> None:
        if key in table and table[key][0] == self.name:
            del table[key]

    @property
    def registrations(self) -> int:
        return len(self._undo)

    def close(self) -> None:
        """Undo every registration, newest first, even if some undo fails."""
        while self._undo:
            undo = self._undo.pop()
            try:
                undo()
            except Exception:
                self.log.exception("extension_unregister_failed")

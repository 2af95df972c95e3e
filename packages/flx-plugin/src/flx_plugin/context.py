"""What a plugin gets when it activates; it tracks every registration to undo them all."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import structlog

if TYPE_CHECKING:
    import click

    from flx_core.application import Application

log = structlog.get_logger(__name__)


class ExtensionRegistry:
    """Contributions of active plugins that are not bus handlers: CLI commands, connectors."""

    def __init__(self) -> None:
        self.cli_commands: dict[str, tuple[str, click.Command]] = {}
        self.connectors: dict[str, tuple[str, Any]] = {}


class PluginContext:
    def __init__(
        self, name: str, app: Application | None, registry: ExtensionRegistry, settings: Any = None
    ) -> None:
        self.name = name
        self.app = app
        self.registry = registry
        self.settings = settings
        self.log = log.bind(plugin=name)
        self._undo: list[Callable[[], None]] = []

    def _need_app(self) -> Application:
        if self.app is None:
            raise RuntimeError("this process has no application bus to register handlers on")
        return self.app

    def register_command(self, command_type: Any, handler: Any) -> None:
        self._undo.append(self._need_app().register_command(command_type, handler).remove)

    def register_query(self, query_type: Any, handler: Any) -> None:
        self._undo.append(self._need_app().register_query(query_type, handler).remove)

    def subscribe(self, event_type: Any, handler: Any) -> None:
        self._undo.append(self._need_app().subscribe(event_type, handler).remove)

    def add_cli_command(self, command: click.Command) -> None:
        name = command.name or ""
        owner = self.registry.cli_commands.get(name)
        if owner is not None and owner[0] != self.name:
            raise ValueError(f"command {name!r} is already provided by plugin {owner[0]!r}")
        self.registry.cli_commands[name] = (self.name, command)
        self._undo.append(lambda: self.registry.cli_commands.pop(name, None))

    def add_connector(self, name: str, spec: Any) -> None:
        self.registry.connectors[name] = (self.name, spec)
        self._undo.append(lambda: self.registry.connectors.pop(name, None))

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
                self.log.exception("unregister_failed")

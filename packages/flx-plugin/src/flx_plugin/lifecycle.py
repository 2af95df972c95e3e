"""Activating, swapping and deactivating one extension; every failure ends as a reason.

A swap (reload, or another version taking over) imports the new code beside the old,
deactivates the old, activates the new, and brings the old back if the new one fails.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import structlog

from flx_plugin.context import ExtensionContext, ExtensionRegistry
from flx_plugin.discovery import DiscoveredExtension
from flx_plugin.loader import ExtensionLoader, ExtensionLoadError, LoadedExtension
from flx_plugin.records import ExtensionRecord, ExtensionState

if TYPE_CHECKING:
    from flx_core.application import Application

log = structlog.get_logger(__name__)


class Lifecycle:
    """The transitions of extension records; ``say`` gets one line per load, reload, failure."""

    def __init__(
        self,
        app: Application | None,
        registry: ExtensionRegistry,
        *,
        settings: Any,
        options: Callable[[str], dict[str, Any]],
        say: Callable[[str], None],
    ) -> None:
        self.app = app
        self.registry = registry
        self.settings = settings
        self.options = options
        self.say = say
        self.loader = ExtensionLoader()
        self.records: dict[str, ExtensionRecord] = {}
        #: Names of active extensions in activation order (stopped in reverse).
        self.active_order: list[str] = []
        #: Locations whose current content failed to import or activate -> (extension, why).
        self.rejected: dict[str, tuple[DiscoveredExtension, str]] = {}

    # -- queries --------------------------------------------------------------------------
    def unmet(self, extension: DiscoveredExtension) -> str | None:
        """Why the extension's requirements are not met by the active extensions, if not met."""
        assert extension.manifest is not None
        for req in extension.manifest.requirements:
            dep = self.records.get(req.name)
            if dep is None or not dep.active:
                return f"requires {req}, which is not active"
            if not req.specifier.contains(dep.extension.version or "0", prereleases=True):
                return f"requires {req}, but {req.name} {dep.extension.version} is active"
        return None

    # -- transitions ----------------------------------------------------------------------
    def activate(self, extension: DiscoveredExtension) -> bool:
        previous = self.records.get(extension.name)
        record = ExtensionRecord(extension.name, ExtensionState.RESOLVED, extension)
        self.records[extension.name] = record
        unmet = self.unmet(extension)
        if unmet is not None:
            self.fail(record, unmet, previous)
            return False
        try:
            loaded = self.loader.load_sync(extension)
        except ExtensionLoadError as exc:
            self.rejected[extension.location] = (extension, str(exc))
            self.fail(record, str(exc), previous)
            return False
        record.state = ExtensionState.LOADED
        error = self._start(record, extension, loaded)
        if error is not None:
            loaded.drop_modules()
            self.rejected[extension.location] = (extension, error)
            self.fail(record, error, previous)
            return False
        self.say(f"active {extension.name} {extension.version} ({extension.source})")
        _count("loaded")
        return True

    def swap(self, record: ExtensionRecord, extension: DiscoveredExtension) -> bool:
        """Replace the running version of ``record`` by ``extension``; on failure keep the old."""
        unmet = self.unmet(extension)
        if unmet is not None:
            self.keep(record, unmet)
            return False
        try:
            loaded = self.loader.load_sync(extension)
        except ExtensionLoadError as exc:
            self.rejected[extension.location] = (extension, str(exc))
            self.keep(record, str(exc))
            return False
        old_extension, old_loaded = record.extension, record.loaded
        self.deactivate(record)
        error = self._start(record, extension, loaded)
        if error is not None:
            loaded.drop_modules()
            self.rejected[extension.location] = (extension, error)
            self._restore(record, old_extension, old_loaded, error)
            return False
        if old_loaded is not None:
            old_loaded.drop_modules()
        _count("reloaded")
        if old_extension.location == extension.location:
            self.say(f"reloaded {extension.name} {extension.version} ({extension.source})")
        else:
            self.say(
                f"replaced {extension.name} {old_extension.version} by {extension.version} "
                f"({extension.source})"
            )
        return True

    def _restore(
        self,
        record: ExtensionRecord,
        extension: DiscoveredExtension,
        loaded: LoadedExtension | None,
        error: str,
    ) -> None:
        again = self._start(record, extension, loaded) if loaded is not None else "not loaded"
        if again is None:
            self.keep(record, error)
            return
        if loaded is not None:
            loaded.drop_modules()
        record.extension, record.loaded = extension, None
        self.fail(record, f"{error}; the previous version did not restart either: {again}", None)

    def _start(
        self, record: ExtensionRecord, extension: DiscoveredExtension, loaded: LoadedExtension
    ) -> str | None:
        """Call activate() with a fresh context; the error text if it raised."""
        context = ExtensionContext(
            extension.name,
            self.app,
            self.registry,
            settings=self.settings,
            config=self.options(extension.name),
        )
        try:
            loaded.target.activate(context)
        except Exception as exc:
            context.close()
            return f"activate() raised {type(exc).__name__}: {exc}"
        record.extension, record.loaded, record.context = extension, loaded, context
        record.state, record.reason = ExtensionState.ACTIVE, None
        record.activated_at = datetime.now(UTC)
        self.active_order.append(record.name)
        return None

    def deactivate(
        self,
        record: ExtensionRecord,
        state: ExtensionState = ExtensionState.INACTIVE,
        reason: str | None = None,
    ) -> None:
        """Call the extension's deactivate(), then undo all its registrations regardless."""
        hook = getattr(record.loaded.target, "deactivate", None) if record.loaded else None
        if callable(hook):
            try:
                hook(record.context)
            except Exception as exc:
                log.exception("extension_deactivate_failed", extension=record.name)
                self.say(f"warning {record.name}: deactivate() raised {type(exc).__name__}: {exc}")
        if record.context is not None:
            record.context.close()
        record.context = None
        record.state, record.reason = state, reason
        if record.name in self.active_order:
            self.active_order.remove(record.name)

    def stop(self, record: ExtensionRecord, state: ExtensionState, reason: str | None) -> None:
        """Deactivate and forget the code (a later activation imports it afresh)."""
        self.deactivate(record, state, reason)
        if record.loaded is not None:
            record.loaded.drop_modules()
            record.loaded = None

    def unload(self, record: ExtensionRecord) -> None:
        self.stop(record, ExtensionState.INACTIVE, None)
        del self.records[record.name]
        self.say(f"unloaded {record.name}")

    # -- reasons --------------------------------------------------------------------------
    def keep(self, record: ExtensionRecord, why: str) -> None:
        """A new version did not take over: the running one stays, with the reason."""
        version = record.extension.version
        text = f"reload failed, previous version {version} stays active: {why}"
        if record.reason != text:
            record.reason = text
            _count("failed")
            self.say(
                f"reload failed {record.name}: {why} (previous version {version} stays active)"
            )

    def fail(self, record: ExtensionRecord, why: str, previous: ExtensionRecord | None) -> None:
        record.state, record.reason = ExtensionState.FAILED, why
        if previous is None or previous.state != ExtensionState.FAILED or previous.reason != why:
            _count("failed")
            self.say(f"failed {record.name} {record.extension.version}: {why}")

    def mark(self, extension: DiscoveredExtension, state: ExtensionState, why: str) -> None:
        """Record an extension that does not run (failed to resolve, or disabled)."""
        previous = self.records.get(extension.name)
        record = ExtensionRecord(extension.name, state, extension, why)
        self.records[extension.name] = record
        if state is ExtensionState.FAILED:
            self.fail(record, why, previous)
        elif previous is None or previous.state != state or previous.reason != why:
            self.say(f"{state} {extension.name}: {why}")


def _count(outcome: str) -> None:
    """Count a load, reload or failure in ``flx_extension_reloads_total`` (imported here:
    most commands that read extensions never serve metrics)."""
    from flx_observability.metrics import EXTENSION_RELOADS

    EXTENSION_RELOADS.labels(outcome).inc()

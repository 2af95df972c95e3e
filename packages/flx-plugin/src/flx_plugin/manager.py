"""The extensions of one process: discovered -> resolved -> loaded -> active -> inactive/failed.

Every change (start, a reload, files changed in the watch directory, ``extensions.toml``
edited) runs the same reconciliation: discover, resolve, then stop what must stop (in
reverse activation order), and start or swap what must run (in dependency order). An extension
that fails to resolve, import or activate is marked failed with its reason; the host and
the other extensions keep working. An edit that does not load leaves the previous version
active and says why.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import structlog

from flx_plugin.builtin import configured_builtins, scan_builtins
from flx_plugin.config import ExtensionConfig, ExtensionConfigError, config_names, reread
from flx_plugin.context import ExtensionRegistry
from flx_plugin.discovery import DiscoveredExtension, scan_directory, scan_entry_points
from flx_plugin.lifecycle import Lifecycle
from flx_plugin.reconcile import Reconciler
from flx_plugin.records import ExtensionRecord, ExtensionState, extension_row
from flx_plugin.resolver import Resolution, resolve
from flx_plugin.status import REQUESTS_DIR, remove_status, take_requests, write_status
from flx_plugin.watcher import watch_files

if TYPE_CHECKING:
    from collections.abc import Callable

    from flx_core.application import Application

log = structlog.get_logger(__name__)
_ANSWERS_KEPT = 20


class ExtensionManager:
    def __init__(
        self,
        config: ExtensionConfig,
        app: Application | None = None,
        *,
        settings: Any = None,
        entry_points: bool = True,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self.config = config
        self.app = app
        self.entry_points = entry_points
        #: Called with each line of ``events`` as it happens (``flx extension watch`` prints them).
        self.on_event = on_event
        #: One line per load, reload, unload and failure, in order.
        self.events: list[str] = []
        self.registry = ExtensionRegistry()
        #: Change batches handled so far (tests wait on it).
        self.batches = 0
        self._life = Lifecycle(
            app,
            self.registry,
            settings=settings,
            options=lambda name: dict(self.config.options.get(name, {})),
            say=self._say,
        )
        self._entry_found: list[DiscoveredExtension] | None = None
        self._reconciler = Reconciler(self._life, self.discover, self.resolve)
        self._answers: dict[str, dict[str, Any]] = {}
        self._publishing = False
        self._published: str | None = None

    @property
    def resolution(self) -> Resolution:
        """The resolution of the last reconciliation."""
        return self._reconciler.resolution

    @property
    def records(self) -> dict[str, ExtensionRecord]:
        """Extension name -> its record (the running version, or the one that could not run)."""
        return self._life.records

    # -- discovery and resolution ----------------------------------------------------------
    def discover(self) -> list[DiscoveredExtension]:
        """The configured built-in extensions and the entry points (read once per manager),
        and the watch directory (read every time)."""
        if self._entry_found is None:
            installed = scan_entry_points() if self.entry_points else []
            self._entry_found = [*scan_builtins(self.config), *installed]
        return [*self._entry_found, *scan_directory(self.config.watch_dir)]

    def resolve(self, found: list[DiscoveredExtension]) -> Resolution:
        broken = {
            extension.name: why
            for extension, why in self._life.rejected.values()
            if extension.name not in self.records or not self.records[extension.name].active
        }
        return resolve(
            found,
            flx_version=self.config.flx_version,
            pins=self.config.pins,
            disabled=self.config.disabled,
            unavailable=broken,
            config_name=self.config.file_name,
        )

    # -- the operations ---------------------------------------------------------------------
    async def start(self) -> None:
        """Discover, resolve and activate every extension (again, if called again)."""
        self.load_all()

    def load_all(self) -> None:
        self._reconciler.run(None)
        self._publish()

    def reload(self, name: str) -> bool:
        """Reload extension ``name``; False (with the reason on its record) if it did not."""
        record = self.records.get(name)
        if record is None:
            self._say(f"failed {name}: no extension of that name")
            return False
        self._reconciler.run({record.location})
        self._publish()
        after = self.records.get(name)
        return after is not None and after.active and after.reason is None

    def handle_changes(self, paths: Iterable[Path | str]) -> None:
        """Apply a batch of changed paths: one action per extension folder, whatever the count."""
        self.batches += 1
        root = self.config.watch_dir
        folders: set[str] = set()
        config_changed = requests = False
        for raw in paths:
            path = Path(raw)
            if self._is_config(path):
                config_changed = True
                continue
            try:
                top = path.relative_to(root).parts[0]
            except (ValueError, IndexError):
                continue
            if top == REQUESTS_DIR:
                requests = True
            elif not top.startswith((".", "_")):
                folders.add(str(root / top))
        try:
            if config_changed:
                folders |= self._reload_config()
            if folders or config_changed:
                self._reconciler.run(folders)
            if requests:
                self._serve_requests()
        except Exception as exc:  # the watcher outlives any surprise
            log.exception("extension_changes_failed")
            self._say(f"error: {type(exc).__name__}: {exc}")
        self._publish()

    def stop(self) -> None:
        """Deactivate every active extension, dependents first."""
        for name in reversed(list(self._life.active_order)):
            self._life.stop(self.records[name], ExtensionState.INACTIVE, None)
        self._publish()

    async def watch(
        self, stop_event: asyncio.Event, *, debounce_ms: int = 800, step_ms: int = 100
    ) -> None:
        """Follow the watch directory and ``extensions.toml`` until ``stop_event`` is set,
        keeping the status file (``.status.json``) up to date for other processes."""
        root = self.config.watch_dir
        (root / REQUESTS_DIR).mkdir(parents=True, exist_ok=True)
        self._publishing = True
        try:
            self._serve_requests()
            self._publish()
            await watch_files(
                root,
                self.config.path,
                stop_event,
                self.handle_changes,
                debounce_ms=debounce_ms,
                step_ms=step_ms,
            )
        finally:
            self._publishing = False
            self._published = None
            remove_status(root)
            with contextlib.suppress(OSError):
                (root / REQUESTS_DIR).rmdir()  # only if empty

    # -- configuration and requests ------------------------------------------------------------
    def _reload_config(self) -> set[str]:
        """Read the configuration again; the locations of running extensions whose options
        changed."""
        try:
            fresh = reread(self.config)
        except ExtensionConfigError as exc:
            self._say(f"error: {exc} (the previous configuration stays)")
            return set()
        changed = {
            r.location
            for r in self.records.values()
            if r.active and fresh.options.get(r.name) != self.config.options.get(r.name)
        }
        if configured_builtins(fresh) != configured_builtins(self.config):
            self._entry_found = None  # a built-in extension was configured or dropped
        self.config = fresh
        self._say(f"configuration read again from {fresh.path}")
        return changed

    def _is_config(self, path: Path) -> bool:
        """Whether ``path`` is the configuration file (or the one that would replace it)."""
        current = self.config.path
        return (
            current is not None
            and path.parent == current.parent
            and path.name in config_names(current)
        )

    def _serve_requests(self) -> None:
        for token, name in take_requests(self.config.watch_dir):
            ok = self.reload(name)
            record = self.records.get(name)
            self._answers[token] = {
                "name": name,
                "ok": ok,
                "state": str(record.state) if record else None,
                "version": record.extension.version if record else None,
                "reason": record.reason if record else "no extension of that name",
            }
        for token in list(self._answers)[:-_ANSWERS_KEPT]:
            del self._answers[token]

    # -- reporting ----------------------------------------------------------------------------
    def snapshot(self) -> list[dict[str, Any]]:
        """Every extension (one row per name) and every manifest that could not be read."""
        rows = [
            record.row(self._reconciler.versions.get(name))
            for name, record in sorted(self.records.items())
        ]
        rows += [
            extension_row(p, ExtensionState.FAILED, p.error)
            for _, p in sorted(self._reconciler.invalid.items())
        ]
        for location, (extension, why) in sorted(self._life.rejected.items()):
            record = self.records.get(extension.name)
            if record is None or record.location != location:
                rows.append(extension_row(extension, ExtensionState.FAILED, why))
        return rows

    def _say(self, line: str) -> None:
        self.events.append(line)
        log.info("extension_event", line=line)
        if self.on_event is not None:
            self.on_event(line)

    def _publish(self) -> None:
        if not self._publishing:
            return
        body = {"extensions": self.snapshot(), "requests": self._answers}
        text = json.dumps(body, sort_keys=True, default=str)
        if text == self._published:
            return
        self._published = text
        status = {
            "pid": os.getpid(),
            "watch_dir": str(self.config.watch_dir),
            "updated_at": datetime.now(UTC).isoformat(),
            **body,
        }
        write_status(self.config.watch_dir, status)

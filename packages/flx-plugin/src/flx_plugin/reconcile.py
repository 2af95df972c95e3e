"""One reconciliation: make the running extensions match what is found.

Discover, resolve, then stop what must stop (in reverse activation order) and start or swap
what must run (in dependency order). ``dirty`` names the locations whose files changed:
their code is imported again. A running extension whose edit does not load or resolve keeps
its running version; a version that fails to import or activate is set aside (rejected)
until its files change, and the next best version is tried.
"""

from __future__ import annotations

from collections.abc import Callable

from flx_plugin.discovery import DiscoveredExtension
from flx_plugin.lifecycle import Lifecycle
from flx_plugin.records import ExtensionRecord, ExtensionState
from flx_plugin.resolver import Resolution, best_by_name, versions_by_name

_MAX_PASSES = 100


class Reconciler:
    def __init__(
        self,
        life: Lifecycle,
        discover: Callable[[], list[DiscoveredExtension]],
        resolve: Callable[[list[DiscoveredExtension]], Resolution],
    ) -> None:
        self.life = life
        self.discover = discover
        self.resolve = resolve
        self.resolution = Resolution()
        #: Manifests that cannot be read, by location.
        self.invalid: dict[str, DiscoveredExtension] = {}
        #: Every version found of each extension name.
        self.versions: dict[str, list[str]] = {}

    @property
    def records(self) -> dict[str, ExtensionRecord]:
        return self.life.records

    def run(self, dirty: set[str] | None) -> None:
        """Passes until no new version is rejected (``dirty=None``: everything is new).

        Each further pass rejects at least one more location, so the passes are few."""
        for _ in range(_MAX_PASSES):
            before = set(self.life.rejected)
            self._pass(dirty)
            if set(self.life.rejected) <= before:
                return
            dirty = set()

    def _pass(self, dirty_in: set[str] | None) -> None:
        life = self.life
        found = self.discover()
        locations = {p.location for p in found}
        dirty = set(locations) if dirty_in is None else set(dirty_in)
        for location in list(life.rejected):
            if location in dirty or location not in locations:
                del life.rejected[location]
        running = {r.location: r for r in self.records.values() if r.active}
        kept: dict[str, str] = {}
        candidates: list[DiscoveredExtension] = []
        for extension in found:
            record = running.get(extension.location)
            if extension.location in life.rejected:
                if record is not None:
                    candidates.append(record.extension)
                continue
            if record is not None and extension.manifest is None:
                kept[record.name] = extension.error or "unreadable manifest"
                candidates.append(record.extension)
                continue
            if record is not None and extension.manifest != record.extension.manifest:
                dirty.add(extension.location)
            candidates.append(extension)
        resolution = self._resolve_keeping(candidates, running, dirty, kept)
        self.resolution = resolution
        invalid = {p.location: p for p in candidates if p.manifest is None}
        for location, extension in invalid.items():
            seen = self.invalid.get(location)
            if seen is None or seen.error != extension.error:
                self.life.say(f"failed {extension.name}: {extension.error}")
        self.invalid = invalid
        self.versions = versions_by_name(found)
        self._stop_unwanted(resolution, candidates)
        self._start_wanted(resolution, dirty, kept)
        self._mark_idle(resolution, candidates, found)

    def _resolve_keeping(
        self,
        candidates: list[DiscoveredExtension],
        running: dict[str, ExtensionRecord],
        dirty: set[str],
        kept: dict[str, str],
    ) -> Resolution:
        """Resolve; a running extension whose edit does not resolve keeps its running version."""
        resolution = self.resolve(candidates)
        for _ in range(len(running)):
            fresh = {c.location: c for c in candidates}
            back = [
                r
                for r in running.values()
                if r.location in dirty
                and r.name in resolution.failed
                and fresh.get(r.location) is not r.extension
                and getattr(fresh.get(r.location), "name", None) == r.name
            ]
            if not back:
                break
            for record in back:
                kept[record.name] = resolution.failed[record.name]
                candidates[:] = [
                    record.extension if c.location == record.location else c for c in candidates
                ]
            resolution = self.resolve(candidates)
        return resolution

    def _stop_unwanted(self, resolution: Resolution, candidates: list[DiscoveredExtension]) -> None:
        wanted = {p.name for p in resolution.order}
        present = {(p.name, p.location) for p in candidates if p.manifest is not None}
        for name in reversed(list(self.life.active_order)):
            record = self.records[name]
            if name in wanted:
                continue
            if (name, record.location) not in present:
                self.life.unload(record)
            elif name in resolution.disabled:
                why = f"disabled in {resolution.config_name}"
                self.life.stop(record, ExtensionState.INACTIVE, why)
                self.life.say(f"stopped {name}: {why}")
            else:
                reason = resolution.failed.get(name, "no longer resolves")
                self.life.stop(record, ExtensionState.FAILED, reason)
                self.life.say(f"stopped {name}: {reason}")

    def _start_wanted(self, resolution: Resolution, dirty: set[str], kept: dict[str, str]) -> None:
        for extension in resolution.order:
            record = self.records.get(extension.name)
            if record is None or not record.active:
                self.life.activate(extension)
            elif extension.name in kept:
                self.life.keep(record, kept[extension.name])
            elif record.location != extension.location or extension.location in dirty:
                self.life.swap(record, extension)

    def _mark_idle(
        self,
        resolution: Resolution,
        candidates: list[DiscoveredExtension],
        found: list[DiscoveredExtension],
    ) -> None:
        """Records of extensions that do not run: failed, disabled, or gone."""
        best = best_by_name(candidates)
        for name, reason in resolution.failed.items():
            record = self.records.get(name)
            if name in best and not (record is not None and record.active):
                self.life.mark(best[name], ExtensionState.FAILED, reason)
        for name in resolution.disabled:
            record = self.records.get(name)
            if name in best and not (record is not None and record.active):
                why = f"disabled in {resolution.config_name}"
                self.life.mark(best[name], ExtensionState.INACTIVE, why)
        names = {p.name for p in found}
        for name, record in list(self.records.items()):
            if not record.active and name not in names:
                del self.records[name]

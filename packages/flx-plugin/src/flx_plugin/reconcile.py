"""One reconciliation: make the running plugins match what is found.

Discover, resolve, then stop what must stop (in reverse activation order) and start or swap
what must run (in dependency order). ``dirty`` names the locations whose files changed:
their code is imported again. A running plugin whose edit does not load or resolve keeps
its running version; a version that fails to import or activate is set aside (rejected)
until its files change, and the next best version is tried.
"""

from __future__ import annotations

from collections.abc import Callable

from flx_plugin.discovery import DiscoveredPlugin
from flx_plugin.lifecycle import Lifecycle
from flx_plugin.records import PluginRecord, PluginState
from flx_plugin.resolver import Resolution, best_by_name, versions_by_name

_MAX_PASSES = 100


class Reconciler:
    def __init__(
        self,
        life: Lifecycle,
        discover: Callable[[], list[DiscoveredPlugin]],
        resolve: Callable[[list[DiscoveredPlugin]], Resolution],
    ) -> None:
        self.life = life
        self.discover = discover
        self.resolve = resolve
        self.resolution = Resolution()
        #: Manifests that cannot be read, by location.
        self.invalid: dict[str, DiscoveredPlugin] = {}
        #: Every version found of each plugin name.
        self.versions: dict[str, list[str]] = {}

    @property
    def records(self) -> dict[str, PluginRecord]:
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
        candidates: list[DiscoveredPlugin] = []
        for plugin in found:
            record = running.get(plugin.location)
            if plugin.location in life.rejected:
                if record is not None:
                    candidates.append(record.plugin)
                continue
            if record is not None and plugin.manifest is None:
                kept[record.name] = plugin.error or "unreadable manifest"
                candidates.append(record.plugin)
                continue
            if record is not None and plugin.manifest != record.plugin.manifest:
                dirty.add(plugin.location)
            candidates.append(plugin)
        resolution = self._resolve_keeping(candidates, running, dirty, kept)
        self.resolution = resolution
        invalid = {p.location: p for p in candidates if p.manifest is None}
        for location, plugin in invalid.items():
            seen = self.invalid.get(location)
            if seen is None or seen.error != plugin.error:
                self.life.say(f"failed {plugin.name}: {plugin.error}")
        self.invalid = invalid
        self.versions = versions_by_name(found)
        self._stop_unwanted(resolution, candidates)
        self._start_wanted(resolution, dirty, kept)
        self._mark_idle(resolution, candidates, found)

    def _resolve_keeping(
        self,
        candidates: list[DiscoveredPlugin],
        running: dict[str, PluginRecord],
        dirty: set[str],
        kept: dict[str, str],
    ) -> Resolution:
        """Resolve; a running plugin whose edit does not resolve keeps its running version."""
        resolution = self.resolve(candidates)
        for _ in range(len(running)):
            fresh = {c.location: c for c in candidates}
            back = [
                r
                for r in running.values()
                if r.location in dirty
                and r.name in resolution.failed
                and fresh.get(r.location) is not r.plugin
                and getattr(fresh.get(r.location), "name", None) == r.name
            ]
            if not back:
                break
            for record in back:
                kept[record.name] = resolution.failed[record.name]
                candidates[:] = [
                    record.plugin if c.location == record.location else c for c in candidates
                ]
            resolution = self.resolve(candidates)
        return resolution

    def _stop_unwanted(self, resolution: Resolution, candidates: list[DiscoveredPlugin]) -> None:
        wanted = {p.name for p in resolution.order}
        present = {(p.name, p.location) for p in candidates if p.manifest is not None}
        for name in reversed(list(self.life.active_order)):
            record = self.records[name]
            if name in wanted:
                continue
            if (name, record.location) not in present:
                self.life.unload(record)
            elif name in resolution.disabled:
                self.life.stop(record, PluginState.INACTIVE, "disabled in plugins.toml")
                self.life.say(f"stopped {name}: disabled in plugins.toml")
            else:
                reason = resolution.failed.get(name, "no longer resolves")
                self.life.stop(record, PluginState.FAILED, reason)
                self.life.say(f"stopped {name}: {reason}")

    def _start_wanted(self, resolution: Resolution, dirty: set[str], kept: dict[str, str]) -> None:
        for plugin in resolution.order:
            record = self.records.get(plugin.name)
            if record is None or not record.active:
                self.life.activate(plugin)
            elif plugin.name in kept:
                self.life.keep(record, kept[plugin.name])
            elif record.location != plugin.location or plugin.location in dirty:
                self.life.swap(record, plugin)

    def _mark_idle(
        self,
        resolution: Resolution,
        candidates: list[DiscoveredPlugin],
        found: list[DiscoveredPlugin],
    ) -> None:
        """Records of plugins that do not run: failed, disabled, or gone."""
        best = best_by_name(candidates)
        for name, reason in resolution.failed.items():
            record = self.records.get(name)
            if name in best and not (record is not None and record.active):
                self.life.mark(best[name], PluginState.FAILED, reason)
        for name in resolution.disabled:
            record = self.records.get(name)
            if name in best and not (record is not None and record.active):
                self.life.mark(best[name], PluginState.INACTIVE, "disabled in plugins.toml")
        names = {p.name for p in found}
        for name, record in list(self.records.items()):
            if not record.active and name not in names:
                del self.records[name]

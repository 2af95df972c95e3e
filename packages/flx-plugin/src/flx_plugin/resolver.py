"""Choosing which plugins load, at which version, in which order.

For each name the highest version compatible with FLX, with a pin, and with what the other
chosen plugins require; a topological order of what remains. Missing dependencies,
conflicting requirements and cycles are named; a failure marks only the plugins it touches
(and those that depend on them).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from flx_plugin.discovery import DiscoveredPlugin


@dataclass
class Resolution:
    order: list[DiscoveredPlugin] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    #: Versions found but not chosen: name -> versions.
    skipped: dict[str, list[str]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def _versions_text(plugins: list[DiscoveredPlugin]) -> str:
    return ", ".join(sorted({p.version or "?" for p in plugins}, key=_version_key))


def _version_key(v: str) -> Version:
    try:
        return Version(v)
    except ValueError:
        return Version("0")


def resolve(
    found: list[DiscoveredPlugin],
    *,
    flx_version: str,
    pins: dict[str, str] | None = None,
    disabled: set[str] | None = None,
) -> Resolution:
    result = Resolution()
    pins = pins or {}
    disabled = disabled or set()
    flx = Version(flx_version)
    by_name: dict[str, list[DiscoveredPlugin]] = defaultdict(list)
    for plugin in found:
        if plugin.manifest is None:
            result.failed[plugin.name] = plugin.error or "unreadable manifest"
        elif plugin.name in disabled:
            if plugin.name not in result.disabled:
                result.disabled.append(plugin.name)
        else:
            by_name[plugin.name].append(plugin)

    # Versions each name may take on its own: FLX compatibility and the pin.
    allowed: dict[str, list[DiscoveredPlugin]] = {}
    for name, plugins in by_name.items():
        ok = [
            p
            for p in plugins
            if p.manifest
            and (not p.manifest.flx or SpecifierSet(p.manifest.flx).contains(flx, prereleases=True))
        ]
        if not ok:
            needs = "; ".join(
                f"{p.version} needs flx{p.manifest.flx}" for p in plugins if p.manifest
            )
            result.failed[name] = f"no version supports FLX {flx_version} ({needs})"
            continue
        if name in pins:
            spec = SpecifierSet(pins[name])
            pinned = [p for p in ok if spec.contains(Version(p.version or "0"), prereleases=True)]
            if not pinned:
                result.failed[name] = (
                    f"pinned to {pins[name]} but only {_versions_text(ok)} is available"
                )
                continue
            ok = pinned
        allowed[name] = sorted(ok, key=lambda p: Version(p.version or "0"), reverse=True)

    chosen = _choose(allowed, result)
    _fail_dependents(chosen, result)
    _break_cycles(chosen, result)
    _fail_dependents(chosen, result)
    graph: TopologicalSorter[str] = TopologicalSorter()
    for name, plugin in chosen.items():
        assert plugin.manifest is not None
        graph.add(name, *(r.name for r in plugin.manifest.requirements))
    result.order = [chosen[n] for n in graph.static_order() if n in chosen]
    for name, plugins in by_name.items():
        if name in chosen:
            others = [p.version or "?" for p in plugins if p is not chosen[name]]
            if others:
                result.skipped[name] = others
    return result


def _choose(
    allowed: dict[str, list[DiscoveredPlugin]], result: Resolution
) -> dict[str, DiscoveredPlugin]:
    """Highest versions that satisfy every requirement on them, repeated to a fixed point."""
    chosen = {name: versions[0] for name, versions in allowed.items()}
    for _round in range(len(allowed) + 2):
        demands: dict[str, list[tuple[str, SpecifierSet]]] = defaultdict(list)
        for name, plugin in chosen.items():
            assert plugin.manifest is not None
            for req in plugin.manifest.requirements:
                demands[req.name].append((name, req.specifier))
        changed = False
        for dep, wanted in demands.items():
            requirers = [n for n, _ in wanted]
            if dep not in allowed:
                for who, spec in wanted:
                    if who in chosen:
                        why = result.failed.get(dep)
                        if dep in result.disabled:
                            reason = f"requires {dep}{spec}, but it is disabled"
                        elif why is None:
                            reason = f"requires {dep}{spec}, which is missing"
                        else:
                            reason = f"requires {dep}{spec}, which failed: {why}"
                        result.failed[who] = reason
                        chosen.pop(who, None)
                        changed = True
                continue
            fitting = [
                p
                for p in allowed[dep]
                if all(s.contains(Version(p.version or "0"), prereleases=True) for _, s in wanted)
            ]
            if fitting:
                if chosen.get(dep) is not fitting[0]:
                    chosen[dep] = fitting[0]
                    changed = True
                continue
            available = _versions_text(allowed[dep])
            text = ", ".join(f"{who} requires {dep}{spec}" for who, spec in wanted)
            message = f"version conflict on {dep}: {text}; available: {dep} {available}"
            if message not in result.conflicts:
                result.conflicts.append(message)
            for who in requirers:
                if who in chosen:
                    result.failed[who] = message
                    chosen.pop(who)
                    changed = True
        if not changed:
            break
    return chosen


def _fail_dependents(chosen: dict[str, DiscoveredPlugin], result: Resolution) -> None:
    changed = True
    while changed:
        changed = False
        for name, plugin in list(chosen.items()):
            assert plugin.manifest is not None
            for req in plugin.manifest.requirements:
                if req.name not in chosen:
                    why = result.failed.get(req.name, "it is not loaded")
                    if req.name in result.disabled:
                        why = "it is disabled"
                    result.failed[name] = f"depends on {req.name}, which failed: {why}"
                    chosen.pop(name)
                    changed = True
                    break


def _break_cycles(chosen: dict[str, DiscoveredPlugin], result: Resolution) -> None:
    while True:
        graph: TopologicalSorter[str] = TopologicalSorter()
        for name, plugin in chosen.items():
            assert plugin.manifest is not None
            graph.add(name, *(r.name for r in plugin.manifest.requirements if r.name in chosen))
        try:
            graph.prepare()
            return
        except CycleError as exc:
            cycle = list(exc.args[1])
            members = sorted(set(cycle))
            result.cycles.append(cycle)
            for name in members:
                result.failed[name] = f"dependency cycle: {' -> '.join(cycle)}"
                chosen.pop(name, None)

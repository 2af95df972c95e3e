"""Choosing which extensions load, at which version, in which order.

For each name: the highest version that supports this FLX, fits the pin of ``extensions.toml``
and satisfies what the other chosen extensions require (at equal versions a folder wins over an
entry point: it is the local, reloadable copy). Then a topological order of what remains.
Missing dependencies, conflicting requirements and cycles are named; a failure marks only
the extensions it touches and those that depend on them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter

from packaging.specifiers import SpecifierSet
from packaging.version import Version

from flx_plugin.discovery import DiscoveredExtension


@dataclass
class Resolution:
    #: The extensions to load, dependencies first.
    order: list[DiscoveredExtension] = field(default_factory=list)
    #: Extension name -> why it does not load.
    failed: dict[str, str] = field(default_factory=dict)
    #: Manifests that could not be read: location -> error (file and field).
    invalid: dict[str, str] = field(default_factory=dict)
    conflicts: list[str] = field(default_factory=list)
    cycles: list[list[str]] = field(default_factory=list)
    disabled: list[str] = field(default_factory=list)
    #: Versions found but not chosen: name -> versions.
    not_chosen: dict[str, list[str]] = field(default_factory=dict)
    #: The configuration file that reasons name for pins and disables.
    config_name: str = "extensions.toml"

    @property
    def ok(self) -> bool:
        return not self.failed and not self.invalid

    def chosen(self, name: str) -> DiscoveredExtension | None:
        return next((p for p in self.order if p.name == name), None)


def _version(extension: DiscoveredExtension) -> Version:
    assert extension.manifest is not None
    return extension.manifest.parsed_version


def _rank(extension: DiscoveredExtension) -> tuple[Version, bool]:
    return _version(extension), extension.origin == "directory"


def best_by_name(found: list[DiscoveredExtension]) -> dict[str, DiscoveredExtension]:
    """The preferred version of each name, ignoring requirements (for reporting)."""
    best: dict[str, DiscoveredExtension] = {}
    for extension in found:
        if extension.manifest is not None:
            seen = best.get(extension.name)
            if seen is None or _rank(extension) > _rank(seen):
                best[extension.name] = extension
    return best


def versions_by_name(found: list[DiscoveredExtension]) -> dict[str, list[str]]:
    """Every version found of each name, lowest first."""
    versions: dict[str, set[Version]] = {}
    for extension in found:
        if extension.manifest is not None:
            versions.setdefault(extension.name, set()).add(_version(extension))
    return {name: [str(v) for v in sorted(vs)] for name, vs in versions.items()}


def _versions_text(extensions: list[DiscoveredExtension]) -> str:
    return ", ".join(str(v) for v in sorted({_version(p) for p in extensions}))


def resolve(
    found: list[DiscoveredExtension],
    *,
    flx_version: str,
    pins: dict[str, str] | None = None,
    disabled: set[str] | None = None,
    unavailable: dict[str, str] | None = None,
    config_name: str = "extensions.toml",
) -> Resolution:
    """``unavailable``: extensions known not to load (name -> why), named to their dependents;
    ``config_name``: the file reasons name for pins and disables."""
    result = Resolution(config_name=config_name)
    pins = pins or {}
    disabled = disabled or set()
    by_name: dict[str, list[DiscoveredExtension]] = defaultdict(list)
    for extension in found:
        if extension.manifest is None:
            result.invalid[extension.location] = extension.error or "unreadable manifest"
        elif extension.name in disabled:
            if extension.name not in result.disabled:
                result.disabled.append(extension.name)
        else:
            by_name[extension.name].append(extension)
    allowed = _allowed(by_name, Version(flx_version), pins, result)
    chosen = _choose(allowed, result, unavailable or {})
    _fail_dependents(chosen, result)
    _break_cycles(chosen, result)
    _fail_dependents(chosen, result)
    result.order = _order(chosen)
    for name, extensions in by_name.items():
        if name in chosen:
            others = sorted(_version(p) for p in extensions if p is not chosen[name])
            if others:
                result.not_chosen[name] = [str(v) for v in others]
    return result


def _allowed(
    by_name: dict[str, list[DiscoveredExtension]],
    flx: Version,
    pins: dict[str, str],
    result: Resolution,
) -> dict[str, list[DiscoveredExtension]]:
    """Versions each name may take on its own (FLX compatibility, the pin), best first."""
    allowed: dict[str, list[DiscoveredExtension]] = {}
    for name, extensions in by_name.items():
        ok = [p for p in extensions if p.manifest is not None and p.manifest.supports(flx)]
        if not ok:
            needs = "; ".join(
                f"{p.version} needs flx{p.manifest.flx}" for p in extensions if p.manifest
            )
            result.failed[name] = f"no version supports FLX {flx} ({needs})"
            continue
        if name in pins:
            spec = SpecifierSet(pins[name])
            pinned = [p for p in ok if spec.contains(_version(p), prereleases=True)]
            if not pinned:
                result.failed[name] = (
                    f"pinned to {pins[name]} in {result.config_name}, "
                    f"but only {_versions_text(ok)} is available"
                )
                continue
            ok = pinned
        allowed[name] = sorted(ok, key=_rank, reverse=True)
    return allowed


def _choose(
    allowed: dict[str, list[DiscoveredExtension]], result: Resolution, unavailable: dict[str, str]
) -> dict[str, DiscoveredExtension]:
    """Highest versions that satisfy every requirement on them, repeated to a fixed point."""
    chosen = {name: versions[0] for name, versions in allowed.items()}
    for _round in range(2 * len(allowed) + 2):
        demands: dict[str, list[tuple[str, SpecifierSet]]] = defaultdict(list)
        for name, extension in chosen.items():
            assert extension.manifest is not None
            for req in extension.manifest.requirements:
                demands[req.name].append((name, req.specifier))
        changed = False
        for dep, wanted in demands.items():
            if dep not in allowed:
                for who, spec in wanted:
                    if chosen.pop(who, None) is not None:
                        result.failed[who] = _missing(dep, spec, result, unavailable)
                        changed = True
                continue
            fitting = [
                p
                for p in allowed[dep]
                if all(s.contains(_version(p), prereleases=True) for _, s in wanted)
            ]
            if fitting:
                if chosen.get(dep) is not fitting[0]:
                    chosen[dep] = fitting[0]
                    changed = True
                continue
            text = ", ".join(f"{who} requires {dep}{spec}" for who, spec in wanted)
            available = _versions_text(allowed[dep])
            message = f"version conflict on {dep}: {text}; available: {dep} {available}"
            if message not in result.conflicts:
                result.conflicts.append(message)
            for who, _spec in wanted:
                if chosen.pop(who, None) is not None:
                    result.failed[who] = message
                    changed = True
        if not changed:
            break
    return chosen


def _missing(
    dep: str, spec: SpecifierSet, result: Resolution, unavailable: dict[str, str] | None = None
) -> str:
    if dep in result.disabled:
        return f"requires {dep}{spec}, but {dep} is disabled in {result.config_name}"
    why = result.failed.get(dep) or (unavailable or {}).get(dep)
    if why is None:
        return f"requires {dep}{spec}, which is missing"
    return f"requires {dep}{spec}, which does not load: {why}"


def _fail_dependents(chosen: dict[str, DiscoveredExtension], result: Resolution) -> None:
    changed = True
    while changed:
        changed = False
        for name, extension in list(chosen.items()):
            assert extension.manifest is not None
            for req in extension.manifest.requirements:
                if req.name not in chosen:
                    result.failed[name] = _missing(req.name, req.specifier, result)
                    del chosen[name]
                    changed = True
                    break


def _graph(chosen: dict[str, DiscoveredExtension]) -> TopologicalSorter[str]:
    graph: TopologicalSorter[str] = TopologicalSorter()
    for name, extension in chosen.items():
        assert extension.manifest is not None
        graph.add(name, *(r.name for r in extension.manifest.requirements if r.name in chosen))
    return graph


def _break_cycles(chosen: dict[str, DiscoveredExtension], result: Resolution) -> None:
    while True:
        try:
            _graph(chosen).prepare()
            return
        except CycleError as exc:
            cycle = list(exc.args[1])
            result.cycles.append(cycle)
            for name in set(cycle):
                result.failed[name] = f"dependency cycle: {' -> '.join(cycle)}"
                chosen.pop(name, None)


def _order(chosen: dict[str, DiscoveredExtension]) -> list[DiscoveredExtension]:
    """Dependencies first; names in alphabetical order among those ready together."""
    graph = _graph(chosen)
    graph.prepare()
    order: list[str] = []
    while graph.is_active():
        ready = sorted(graph.get_ready())
        order.extend(ready)
        graph.done(*ready)
    return [chosen[n] for n in order]

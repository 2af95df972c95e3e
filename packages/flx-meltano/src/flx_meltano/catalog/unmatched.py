"""Select rules and metadata keys that name nothing in a catalog.

A rule that matches no stream or property selects nothing, and says nothing: the run then
moves fewer records than meant, often none. ``unmatched_rules`` names each such rule with
the closest name the catalog has, for a run to warn about it and for a pipeline's creation
to refuse it:

    unmatched_rules(catalog, ["user.*", "!users.pasword"], {}, tap="tap-x")
    # select rule 'user.*' matches no stream of tap-x's catalog; closest: 'users'
    # select rule '!users.pasword' matches no property of stream 'users' of tap-x's
    #   catalog; closest: 'users.password'

An exclusion (``!x``) that matches nothing is reported too: it excludes nothing, which is
not what its author meant either.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from difflib import get_close_matches
from fnmatch import fnmatchcase
from typing import Any

from flx_meltano.catalog.patterns import PropertyPath, SelectPattern, parse_patterns
from flx_meltano.catalog.streams import property_path, schema_paths, stream_id, streams_of

#: Names listed when no name is close to the one asked for.
SHOWN = 6


def catalog_names(catalog: Mapping[str, Any]) -> dict[str, list[PropertyPath]]:
    """Stream id -> its property paths (schema, then metadata-only), without copying or
    changing the catalog."""
    names: dict[str, list[PropertyPath]] = {}
    for stream in streams_of(catalog):
        found = dict.fromkeys(schema_paths(stream.get("schema")))
        entries = stream.get("metadata")
        for entry in entries if isinstance(entries, list) else ():
            crumbs = entry.get("breadcrumb") if isinstance(entry, Mapping) else None
            path = property_path(crumbs) if isinstance(crumbs, list) else None
            if path is not None:
                found.setdefault(path)
        names.setdefault(stream_id(stream), []).extend(found)
    return names


def unmatched_rules(
    catalog: Mapping[str, Any],
    select: Sequence[str],
    metadata: Mapping[str, Any],
    *,
    tap: str | None = None,
) -> list[str]:
    """One message per select rule or metadata key of ``catalog`` that matches nothing.

    A rule that does not parse raises ``SelectPatternError``, as ``apply_selection`` does.
    """
    where = f"{tap}'s catalog" if tap else "the catalog"
    names = catalog_names(catalog)
    messages: list[str] = []
    for pattern in parse_patterns(list(select)):
        messages.extend(_select_rule(pattern, names, where))
    for stream_glob, entries in metadata.items():
        messages.extend(_metadata_key(str(stream_glob), entries, names, where))
    return list(dict.fromkeys(messages))


def _select_rule(
    pattern: SelectPattern, names: dict[str, list[PropertyPath]], where: str
) -> Iterable[str]:
    what = f"select rule {pattern.raw.strip()!r}"
    streams = [s for s in names if pattern.matches_stream(s)]
    if not streams:
        yield f"{what} matches no stream of {where}{_hint(pattern.stream, names)}"
        return
    if pattern.whole_stream:
        return
    paths = [path for s in streams for path in names[s]]
    if any(pattern.covers(path) for path in paths):
        return
    yield (
        f"{what} matches no property of {_streams(streams)} of {where}"
        f"{_hint('.'.join(pattern.path), _dotted(paths), prefix=pattern.stream)}"
    )


def _metadata_key(
    stream_glob: str, entries: Any, names: dict[str, list[PropertyPath]], where: str
) -> Iterable[str]:
    streams = [s for s in names if fnmatchcase(s, stream_glob)]
    if not streams:
        yield (
            f"metadata key {stream_glob!r} matches no stream of {where}{_hint(stream_glob, names)}"
        )
        return
    if not isinstance(entries, Mapping):
        return
    paths = [path for s in streams for path in names[s]]
    for key, value in entries.items():
        if not isinstance(value, Mapping):
            continue  # stream metadata: the key is a metadata name, not a property
        globs = tuple(str(key).split("."))
        if any(len(p) == len(globs) and all(map(fnmatchcase, p, globs)) for p in paths):
            continue
        yield (
            f"metadata key '{stream_glob}.{key}' matches no property of {_streams(streams)} "
            f"of {where}{_hint(str(key), _dotted(paths), prefix=stream_glob)}"
        )


def _streams(streams: list[str]) -> str:
    if len(streams) == 1:
        return f"stream {streams[0]!r}"
    more = ", ..." if streams[SHOWN:] else ""
    return f"the streams it names ({', '.join(streams[:SHOWN])}{more})"


def _dotted(paths: Iterable[PropertyPath]) -> list[str]:
    return list(dict.fromkeys(".".join(path) for path in paths))


def _hint(asked: str, candidates: Iterable[str], *, prefix: str | None = None) -> str:
    """``; closest: 'x'``, or the names there are when none is close."""
    known = list(candidates)
    kind = "properties" if prefix is not None else "streams"
    if not known:
        return f"; it has no {kind}"
    close = get_close_matches(asked, known, n=1)
    if not close:
        # A case slip is not always "close" to difflib on short names.
        close = [name for name in known if name.lower() == asked.lower()][:1]
    if close:
        name = f"{prefix}.{close[0]}" if prefix is not None else close[0]
        return f"; closest: {name!r}"
    shown = ", ".join(repr(n) for n in known[:SHOWN])
    return f"; its {kind}: {shown}{', ...' if known[SHOWN:] else ''}"

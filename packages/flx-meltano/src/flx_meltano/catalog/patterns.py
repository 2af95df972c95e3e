"""Select patterns as Meltano writes them: ``stream.property`` with globs and ``!``.

    users.*             every property of ``users``
    users.address.city  a nested property (its parents are selected with it)
    *.id                ``id`` of every stream
    !users.password     never ``password``: an exclusion wins over any inclusion
    !logs.*  or  !logs  not the stream ``logs`` at all
    users               the stream with all its properties (same as ``users.*``)

Stream ids are matched whole, so a stream id containing a dot can only be reached with a
glob (``public?users``), as in Meltano. Matching is case-sensitive.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

PropertyPath = tuple[str, ...]


class SelectPatternError(ValueError):
    def __init__(self, pattern: str, reason: str) -> None:
        super().__init__(f"invalid select pattern {pattern!r}: {reason}")
        self.pattern = pattern


@dataclass(frozen=True, slots=True)
class SelectPattern:
    raw: str
    negated: bool
    stream: str
    path: PropertyPath
    """Property globs from the top level down; empty for a bare stream pattern."""

    @classmethod
    def parse(cls, raw: str) -> SelectPattern:
        text = raw.strip()
        negated = text.startswith("!")
        body = text[1:] if negated else text
        if not body:
            raise SelectPatternError(raw, "it is empty")
        if body.startswith("!"):
            raise SelectPatternError(raw, "'!' may appear once, at the start")
        stream, *path = split_path(body, raw)
        return cls(raw=raw, negated=negated, stream=stream, path=tuple(path))

    @property
    def whole_stream(self) -> bool:
        """Whether the pattern means the stream itself (``s``, ``s.*``), not some of it."""
        return self.path in ((), ("*",))

    def matches_stream(self, stream_id: str) -> bool:
        return fnmatchcase(stream_id, self.stream)

    def covers(self, path: PropertyPath) -> bool:
        """Whether the pattern names ``path`` or one of its ancestors."""
        return len(self.path) <= len(path) and all(
            fnmatchcase(name, glob) for name, glob in zip(path, self.path, strict=False)
        )


def parse_patterns(patterns: list[str] | tuple[str, ...]) -> list[SelectPattern]:
    """Parse them all first, so a bad one is reported before the catalog is touched."""
    if isinstance(patterns, str):
        raise SelectPatternError(patterns, "select rules are a list of patterns, not a string")
    return [SelectPattern.parse(p) for p in patterns]


def split_path(text: str, raw: str) -> list[str]:
    parts = text.split(".")
    if any(not part.strip() for part in parts):
        raise SelectPatternError(raw, "a name between dots is empty")
    return parts

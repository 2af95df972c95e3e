"""Select filters, as Meltano's ``select_filter`` extra: stream patterns applied after the
selection, which only ever deselect.

    ["users", "order*"]   only these streams (of those selected)
    ["!events"]           every selected stream but these
    ["*", "!events"]      the same

A stream none of the inclusions names, or one an exclusion names, is deselected (its
stream metadata ``selected: false``); its properties are left as they are. A pattern's part
after the first dot is ignored (``users.*`` filters the stream ``users``), as in Meltano.
Unlike select rules, filters also apply to a catalog file given in place of discovery.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

from flx_meltano.catalog.patterns import parse_patterns
from flx_meltano.catalog.streams import StreamMetadata, stream_id, streams_of


def apply_select_filter(catalog: Mapping[str, Any], filters: Sequence[str]) -> dict[str, Any]:
    """A copy of ``catalog`` with the streams ``filters`` leave out deselected."""
    patterns = parse_patterns(list(filters))
    result = copy.deepcopy(dict(catalog))
    includes = [p for p in patterns if not p.negated]
    excludes = [p for p in patterns if p.negated]
    if not patterns:
        return result
    for stream in streams_of(result):
        sid = stream_id(stream)
        kept = (not includes or any(p.matches_stream(sid) for p in includes)) and not any(
            p.matches_stream(sid) for p in excludes
        )
        if not kept:
            StreamMetadata(stream).ensure(())["selected"] = False
    return result

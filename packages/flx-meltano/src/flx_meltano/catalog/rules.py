"""The catalog a run hands the tap, in Meltano's order:

    discovered catalog -> schema overrides -> select rules -> metadata -> select filter
    catalog file       ------------------------------------------------> select filter

A catalog file given in place of discovery (Meltano's ``catalog`` extra) is used as it is:
its own selection and metadata stand, and only the select filter applies, as in Meltano.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from flx_meltano.catalog.cache import is_catalog
from flx_meltano.catalog.metadata import apply_metadata
from flx_meltano.catalog.schema import apply_schema
from flx_meltano.catalog.select_filter import apply_select_filter
from flx_meltano.catalog.selection import apply_selection
from flx_meltano.catalog.streams import CatalogError


def read_catalog_file(path: str | Path) -> dict[str, Any]:
    """The catalog in the file at ``path``; CatalogError says what is wrong with it."""
    try:
        document = orjson.loads(Path(path).read_bytes())
    except FileNotFoundError:
        raise CatalogError(f"catalog file {path} does not exist") from None
    except OSError as exc:
        raise CatalogError(f"catalog file {path} cannot be read: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise CatalogError(f"catalog file {path} is not valid JSON: {exc}") from None
    if not is_catalog(document):
        raise CatalogError(f"catalog file {path} has no list of stream objects in 'streams'")
    return document  # type: ignore[no-any-return]


def run_catalog(
    catalog: Mapping[str, Any],
    *,
    select: Sequence[str] = (),
    metadata: Mapping[str, Mapping[str, Any]] | None = None,
    schema: Mapping[str, Mapping[str, Any]] | None = None,
    select_filter: Sequence[str] = (),
    provided: bool = False,
) -> dict[str, Any]:
    """``catalog`` with the pipeline's rules applied; ``provided`` for a catalog file,
    which gets the select filter only."""
    if not provided:
        shaped = apply_schema(catalog, schema or {})
        catalog = apply_metadata(apply_selection(shaped, select), metadata or {})
    return apply_select_filter(catalog, select_filter)

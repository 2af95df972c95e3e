"""Singer catalogs: discovery (cached), select rules and metadata overrides.

    catalog = await discover(command, config_path, cache_path=path)
    catalog = apply_metadata(apply_selection(catalog, ["users.*", "!users.password"]),
                             {"users": {"replication-method": "INCREMENTAL"}})

Selection first, then metadata, so a metadata override has the last word. A run applies
the whole of Meltano's rules with ``run_catalog`` (schema overrides before the selection,
the select filter after it; a catalog file gets the filter only).
``unmatched_rules(catalog, select, metadata)`` names the rules and keys that match nothing.
"""

from flx_meltano.catalog.cache import (
    catalog_cache_file as catalog_cache_file,
    catalog_fingerprint as catalog_fingerprint,
)
from flx_meltano.catalog.discovery import (
    DiscoveryError as DiscoveryError,
    discover as discover,
    discover_catalog as discover_catalog,
)
from flx_meltano.catalog.metadata import apply_metadata as apply_metadata
from flx_meltano.catalog.patterns import (
    SelectPattern as SelectPattern,
    SelectPatternError as SelectPatternError,
)
from flx_meltano.catalog.rules import (
    read_catalog_file as read_catalog_file,
    run_catalog as run_catalog,
)
from flx_meltano.catalog.schema import (
    SchemaOverrideError as SchemaOverrideError,
    apply_schema as apply_schema,
)
from flx_meltano.catalog.select_filter import apply_select_filter as apply_select_filter
from flx_meltano.catalog.selection import (
    PropertySelection as PropertySelection,
    StreamSelection as StreamSelection,
    apply_selection as apply_selection,
    describe_selection as describe_selection,
    list_selection as list_selection,
)
from flx_meltano.catalog.streams import CatalogError as CatalogError
from flx_meltano.catalog.unmatched import unmatched_rules as unmatched_rules

__all__ = [
    "CatalogError",
    "DiscoveryError",
    "PropertySelection",
    "SchemaOverrideError",
    "SelectPattern",
    "SelectPatternError",
    "StreamSelection",
    "apply_metadata",
    "apply_schema",
    "apply_select_filter",
    "apply_selection",
    "catalog_cache_file",
    "catalog_fingerprint",
    "describe_selection",
    "discover",
    "discover_catalog",
    "list_selection",
    "read_catalog_file",
    "run_catalog",
    "unmatched_rules",
]

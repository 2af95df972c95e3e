"""Singer catalogs: discovery (cached), select rules and metadata overrides.

    catalog = await discover(command, config_path, cache_path=path)
    catalog = apply_metadata(apply_selection(catalog, ["users.*", "!users.password"]),
                             {"users": {"replication-method": "INCREMENTAL"}})

Selection first, then metadata, so a metadata override has the last word.
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
    "SelectPattern",
    "SelectPatternError",
    "StreamSelection",
    "apply_metadata",
    "apply_selection",
    "catalog_cache_file",
    "catalog_fingerprint",
    "describe_selection",
    "discover",
    "discover_catalog",
    "list_selection",
    "unmatched_rules",
]

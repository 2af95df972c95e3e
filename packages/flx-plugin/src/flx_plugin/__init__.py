"""FLX extensions: discovery, manifests, resolution, loading, hot reload, versions.

An extension is code that extends FLX itself (bus handlers, `flx` commands, connectors); a
plugin, in FLX, is a Singer connector. This package loads extensions::

    found = await ExtensionDiscovery("/opt/flx/extensions.d").scan()
    loaded = await ExtensionLoader().load_extension(found[0])

    manager = ExtensionManager(load_extension_config(settings), app, settings=settings)
    await manager.start()                 # discover, resolve, activate
    await manager.watch(stop_event)       # hot reload until stop_event is set

An extension is an object with ``activate(context: ExtensionContext)`` and optionally
``deactivate(context)``; everything it registers through the context is undone when it
deactivates.

``FlxPlugin`` and ``PluginContext``, the earlier names of ``FlxExtension`` and
``ExtensionContext``, still import (with a DeprecationWarning) so existing extensions load.
"""

from typing import Any

from flx_plugin.config import (
    CONFIG_NAME as CONFIG_NAME,
    ExtensionConfig as ExtensionConfig,
    ExtensionConfigError as ExtensionConfigError,
    load_extension_config as load_extension_config,
)
from flx_plugin.context import (
    ExtensionContext as ExtensionContext,
    ExtensionRegistry as ExtensionRegistry,
)
from flx_plugin.discovery import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
    ENTRY_POINT_GROUPS as ENTRY_POINT_GROUPS,
    DiscoveredExtension as DiscoveredExtension,
    ExtensionDiscovery as ExtensionDiscovery,
)
from flx_plugin.extension import Extension as Extension, FlxExtension as FlxExtension
from flx_plugin.host import cli_commands as cli_commands, has_extensions as has_extensions
from flx_plugin.loader import (
    ExtensionLoader as ExtensionLoader,
    ExtensionLoadError as ExtensionLoadError,
    LoadedExtension as LoadedExtension,
)
from flx_plugin.manager import ExtensionManager as ExtensionManager
from flx_plugin.manifest import (
    MANIFEST_NAME as MANIFEST_NAME,
    ExtensionManifest as ExtensionManifest,
    ManifestError as ManifestError,
    load_manifest as load_manifest,
)
from flx_plugin.queries import (
    ExtensionConfigUnusable as ExtensionConfigUnusable,
    ExtensionInfo as ExtensionInfo,
    ExtensionView as ExtensionView,
    GetExtension as GetExtension,
    ListExtensions as ListExtensions,
)
from flx_plugin.records import (
    ExtensionRecord as ExtensionRecord,
    ExtensionState as ExtensionState,
)
from flx_plugin.reports import (
    extension_rows as extension_rows,
    resolution_report as resolution_report,
)
from flx_plugin.resolver import Resolution as Resolution, resolve as resolve
from flx_plugin.status import read_status as read_status, request_reload as request_reload

#: Earlier names that extensions already import: old name -> current name.
_RENAMED = {"FlxPlugin": "FlxExtension", "PluginContext": "ExtensionContext"}


def __getattr__(name: str) -> Any:
    if name in _RENAMED:
        import warnings

        current = _RENAMED[name]
        warnings.warn(
            f"flx_plugin.{name} is now flx_plugin.{current}", DeprecationWarning, stacklevel=2
        )
        return globals()[current]
    raise AttributeError(f"module 'flx_plugin' has no attribute {name!r}")

"""FLX extension plugins: discovery, manifests, resolution, loading, hot reload, versions.

    plugins = await PluginDiscovery("/opt/flx/plugins.d").scan()
    loaded = await PluginLoader().load_plugin(plugins[0])

    manager = PluginManager(load_plugin_config(settings), app, settings=settings)
    await manager.start()                 # discover, resolve, activate
    await manager.watch(stop_event)       # hot reload until stop_event is set

A plugin is an object with ``activate(context: PluginContext)`` and optionally
``deactivate(context)``; everything it registers through the context is undone when it
deactivates.
"""

from flx_plugin.config import (
    PluginConfig as PluginConfig,
    PluginConfigError as PluginConfigError,
    load_plugin_config as load_plugin_config,
)
from flx_plugin.context import (
    ExtensionRegistry as ExtensionRegistry,
    PluginContext as PluginContext,
)
from flx_plugin.discovery import (
    ENTRY_POINT_GROUP as ENTRY_POINT_GROUP,
    DiscoveredPlugin as DiscoveredPlugin,
    PluginDiscovery as PluginDiscovery,
)
from flx_plugin.host import cli_commands as cli_commands, has_plugins as has_plugins
from flx_plugin.loader import (
    LoadedPlugin as LoadedPlugin,
    PluginLoader as PluginLoader,
    PluginLoadError as PluginLoadError,
)
from flx_plugin.manager import PluginManager as PluginManager
from flx_plugin.manifest import (
    MANIFEST_NAME as MANIFEST_NAME,
    ManifestError as ManifestError,
    PluginManifest as PluginManifest,
    load_manifest as load_manifest,
)
from flx_plugin.plugin import FlxPlugin as FlxPlugin, Plugin as Plugin
from flx_plugin.records import PluginRecord as PluginRecord, PluginState as PluginState
from flx_plugin.reports import (
    extension_rows as extension_rows,
    resolution_report as resolution_report,
)
from flx_plugin.resolver import Resolution as Resolution, resolve as resolve
from flx_plugin.status import read_status as read_status, request_reload as request_reload

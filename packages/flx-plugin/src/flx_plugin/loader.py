"""Importing plugin code: each directory plugin under a namespace of its own.

A folder's code is imported as ``_flx_plugins.<name>_g<generation>.<module>``: a new
generation per reload, so the new code imports beside the old one (which stays active until
the new one works), and dropping a version removes exactly its modules from sys.modules.
Plugin code refers to its own modules with relative imports.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flx_plugin.discovery import DiscoveredPlugin

ROOT_PACKAGE = "_flx_plugins"
_generation = itertools.count(1)


class PluginLoadError(Exception):
    pass


@dataclass
class LoadedPlugin:
    plugin: DiscoveredPlugin
    target: Any
    namespace: str | None = None

    def drop_modules(self) -> None:
        if self.namespace is None:
            return
        prefix = self.namespace + "."
        for key in [k for k in sys.modules if k == self.namespace or k.startswith(prefix)]:
            del sys.modules[key]


def _root() -> types.ModuleType:
    root = sys.modules.get(ROOT_PACKAGE)
    if root is None:
        root = types.ModuleType(ROOT_PACKAGE)
        root.__path__ = []
        sys.modules[ROOT_PACKAGE] = root
    return root


def _import_from_folder(folder: Path, entry: str, name: str) -> tuple[Any, str]:
    module_name, _, attribute = entry.partition(":")
    _root()
    safe = re.sub(r"\W", "_", name)
    namespace = f"{ROOT_PACKAGE}.{safe}_g{next(_generation)}"
    package = types.ModuleType(namespace)
    package.__path__ = [str(folder)]
    package.__package__ = namespace
    sys.modules[namespace] = package
    importlib.invalidate_caches()
    previous = sys.dont_write_bytecode
    sys.dont_write_bytecode = True  # edits within one second must never meet a stale .pyc
    try:
        module = importlib.import_module(f"{namespace}.{module_name}")
        target: Any = module
        for part in attribute.split("."):
            target = getattr(target, part)
    except BaseException:
        prefix = namespace + "."
        for key in [k for k in sys.modules if k == namespace or k.startswith(prefix)]:
            del sys.modules[key]
        raise
    finally:
        sys.dont_write_bytecode = previous
    return target, namespace


class PluginLoader:
    """``await PluginLoader().load_plugin(plugin)`` imports a discovered plugin's entry."""

    async def load_plugin(self, plugin: DiscoveredPlugin) -> LoadedPlugin:
        return self.load_sync(plugin)

    def load_sync(self, plugin: DiscoveredPlugin) -> LoadedPlugin:
        if plugin.manifest is None:
            raise PluginLoadError(plugin.error or f"{plugin.name}: no manifest")
        try:
            if plugin.source == "entry_point":
                target, namespace = plugin.target, None
            else:
                target, namespace = _import_from_folder(
                    Path(plugin.location), plugin.manifest.entry, plugin.name
                )
        except Exception as exc:
            raise PluginLoadError(
                f"cannot import {plugin.manifest.entry}: {type(exc).__name__}: {exc}"
            ) from exc
        if isinstance(target, type):
            target = target()
        if not callable(getattr(target, "activate", None)):
            raise PluginLoadError(f"{plugin.manifest.entry} has no activate(context)")
        return LoadedPlugin(plugin, target, namespace)

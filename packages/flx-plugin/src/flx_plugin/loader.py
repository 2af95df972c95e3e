"""Importing extension code: each directory extension under a package namespace of its own.

A folder's code is imported as ``_flx_extensions.<name>_g<generation>.<module>``, a new
generation per load. So a reload imports the new code beside the old (which stays active
until the new one works), and unloading drops exactly that extension's modules from
``sys.modules``. Extension code refers to its own modules with relative imports.
"""

from __future__ import annotations

import importlib
import itertools
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flx_plugin.discovery import DiscoveredExtension

ROOT_PACKAGE = "_flx_extensions"
_generation = itertools.count(1)


class ExtensionLoadError(Exception):
    """The extension's code cannot be imported, or its entry has no ``activate``."""


@dataclass
class LoadedExtension:
    extension: DiscoveredExtension
    #: The entry object (a class is instantiated): it has ``activate(context)``.
    target: Any
    #: The package its folder was imported as (None for entry points).
    namespace: str | None = None

    def drop_modules(self) -> None:
        """Forget this load's modules (only these: the namespace is its own)."""
        if self.namespace is not None:
            _drop(self.namespace)


def _drop(namespace: str) -> None:
    prefix = namespace + "."
    for key in [k for k in sys.modules if k == namespace or k.startswith(prefix)]:
        del sys.modules[key]


def _root() -> None:
    if ROOT_PACKAGE not in sys.modules:
        root = types.ModuleType(ROOT_PACKAGE, "Code of extensions loaded from folders")
        root.__path__ = []
        sys.modules[ROOT_PACKAGE] = root


def namespace_for(name: str) -> str:
    safe = re.sub(r"\W", "_", name)
    return f"{ROOT_PACKAGE}.{safe}_g{next(_generation)}"


def _import_from_folder(folder: Path, entry: str, name: str) -> tuple[Any, str]:
    module_name, _, attribute = entry.partition(":")
    _root()
    namespace = namespace_for(name)
    package = types.ModuleType(namespace)
    package.__path__ = [str(folder)]
    package.__package__ = namespace
    sys.modules[namespace] = package
    importlib.invalidate_caches()
    previous = sys.dont_write_bytecode
    # Two edits within the same second can leave a .pyc that looks fresh: never write them.
    sys.dont_write_bytecode = True
    try:
        target: Any = importlib.import_module(f"{namespace}.{module_name}")
        for part in attribute.split("."):
            target = getattr(target, part)
    except BaseException:
        _drop(namespace)
        raise
    finally:
        sys.dont_write_bytecode = previous
    return target, namespace


class ExtensionLoader:
    """``await ExtensionLoader().load_extension(found)`` imports a discovered extension's entry."""

    async def load_extension(self, extension: DiscoveredExtension) -> LoadedExtension:
        return self.load_sync(extension)

    def load_sync(self, extension: DiscoveredExtension) -> LoadedExtension:
        if extension.manifest is None:
            raise ExtensionLoadError(extension.error or f"{extension.name}: no manifest")
        entry = extension.manifest.entry
        namespace: str | None = None
        try:
            if extension.origin == "entry_point":
                target = extension.target
            else:
                target, namespace = _import_from_folder(
                    Path(extension.location), entry, extension.name
                )
            if isinstance(target, type):
                target = target()
        except Exception as exc:
            if namespace is not None:
                _drop(namespace)
            raise ExtensionLoadError(f"cannot import {entry}: {type(exc).__name__}: {exc}") from exc
        loaded = LoadedExtension(extension, target, namespace)
        if not callable(getattr(target, "activate", None)):
            loaded.drop_modules()
            raise ExtensionLoadError(f"{entry} has no activate(context)")
        return loaded

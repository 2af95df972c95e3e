"""What an extension's entry object looks like.

Any object with ``activate(context)`` (and optionally ``deactivate(context)``) will do: a
module, an instance, or a class (instantiated with no arguments). Installed extensions found
through entry points carry their manifest, either as a ``manifest`` dict or as the class
attributes of a :class:`FlxExtension` subclass::

    class Alerts(FlxExtension):
        name = "alerts"
        version = "1.3.0"
        requires = ("base>=1",)

        def activate(self, context: ExtensionContext) -> None:
            context.subscribe(ExecutionFailed, self.on_failed)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    from flx_plugin.context import ExtensionContext

_MANIFEST_ATTRIBUTES = ("name", "version", "description", "kind", "requires", "flx", "provides")


@runtime_checkable
class Extension(Protocol):
    def activate(self, context: ExtensionContext) -> None: ...


class FlxExtension(ABC):
    """A base class whose class attributes are the extension's manifest."""

    name: ClassVar[str]
    version: ClassVar[str]
    description: ClassVar[str] = ""
    kind: ClassVar[str] = "extension"
    requires: ClassVar[tuple[str, ...]] = ()
    flx: ClassVar[str] = ""
    provides: ClassVar[tuple[str, ...]] = ()

    @abstractmethod
    def activate(self, context: ExtensionContext) -> None:
        """Register handlers, commands and connectors through ``context``."""

    def deactivate(self, context: ExtensionContext) -> None:
        """Undo what activate() did beyond the context's registrations (threads, files)."""
        return None

    @classmethod
    def manifest_data(cls) -> dict[str, Any]:
        return {a: getattr(cls, a) for a in _MANIFEST_ATTRIBUTES if hasattr(cls, a)}


def manifest_data_of(target: Any) -> dict[str, Any] | None:
    """The manifest an entry-point object carries, or None."""
    raw = getattr(target, "manifest", None)
    if isinstance(raw, Mapping):
        return dict(raw)
    dump = getattr(raw, "model_dump", None)
    if callable(dump):  # an ExtensionManifest
        return dict(dump())
    cls = target if isinstance(target, type) else type(target)
    if issubclass(cls, FlxExtension):
        return cls.manifest_data()
    return None

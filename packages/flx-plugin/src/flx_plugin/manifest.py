"""The extension manifest (``flx-extension.toml``), validated with Pydantic.

A bad manifest raises :class:`ManifestError` naming the file and the field, so one broken
extension is reported and the others still load.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

MANIFEST_NAME = "flx-extension.toml"
#: Still read in a folder that has no ``flx-extension.toml``.
LEGACY_MANIFEST_NAME = "flx-plugin.toml"
ExtensionKind = Literal["extension", "extractor", "loader", "mapper"]
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class ManifestError(Exception):
    """A manifest that cannot be used; ``source`` is its file (or entry point)."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class ExtensionManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    description: str = ""
    kind: ExtensionKind = "extension"
    requires: tuple[str, ...] = Field(default=(), description="e.g. 'alerts>=1.2'")
    flx: str = Field(default="", description="FLX versions supported, e.g. '>=0.1,<1'")
    entry: str = Field(description="'module:attribute' of the object with activate(context)")
    provides: tuple[str, ...] = Field(default=(), description="Informational: commands, ...")

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("use lowercase letters, digits, '-' or '_' (at most 63)")
        return v

    @field_validator("version")
    @classmethod
    def _version(cls, v: str) -> str:
        try:
            Version(v)
        except InvalidVersion:
            raise ValueError(f"{v!r} is not a version (PEP 440)") from None
        return v

    @field_validator("requires")
    @classmethod
    def _requires(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        for item in v:
            try:
                req = Requirement(item)
            except InvalidRequirement as exc:
                raise ValueError(f"{item!r} is not a requirement: {exc}") from None
            if req.url or req.marker or req.extras:
                raise ValueError(f"{item!r}: give an extension name and a version specifier only")
        return v

    @field_validator("flx")
    @classmethod
    def _flx(cls, v: str) -> str:
        try:
            SpecifierSet(v)
        except InvalidSpecifier:
            raise ValueError(f"{v!r} is not a version specifier") from None
        return v

    @field_validator("entry")
    @classmethod
    def _entry(cls, v: str) -> str:
        if not _ENTRY.fullmatch(v):
            raise ValueError("must be 'module:attribute'")
        return v

    @model_validator(mode="after")
    def _not_itself(self) -> ExtensionManifest:
        if any(Requirement(r).name == self.name for r in self.requires):
            raise ValueError(f"field 'requires': {self.name} cannot require itself")
        return self

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    @property
    def requirements(self) -> list[Requirement]:
        return [Requirement(r) for r in self.requires]

    def supports(self, flx_version: Version) -> bool:
        return not self.flx or SpecifierSet(self.flx).contains(flx_version, prereleases=True)


def manifest_from(data: Any, source: str) -> ExtensionManifest:
    """Validate ``data``; the first error becomes ``<source>: field 'x': why``."""
    if not isinstance(data, dict):
        raise ManifestError(source, "the manifest must be a table of fields")
    try:
        return ExtensionManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        msg = str(err["msg"]).removeprefix("Value error, ")
        if not err["loc"] and msg.startswith("field "):
            raise ManifestError(source, msg) from None
        field = str(err["loc"][0]) if err["loc"] else "(manifest)"
        raise ManifestError(source, f"field {field!r}: {msg}") from None


def load_manifest(path: Path) -> ExtensionManifest:
    """Read and validate a manifest file (``flx-extension.toml``)."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(str(path), f"cannot read: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ManifestError(str(path), f"invalid TOML: {exc}") from None
    return manifest_from(data, str(path))

"""The plugin manifest (``flx-plugin.toml``), validated with Pydantic."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any, Literal

from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MANIFEST_NAME = "flx-plugin.toml"
_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
_ENTRY = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class ManifestError(Exception):
    """A manifest that cannot be used; names the file and the field."""

    def __init__(self, source: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.message = message


class PluginManifest(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    description: str = ""
    kind: Literal["extension", "extractor", "loader", "mapper"] = "extension"
    requires: list[str] = Field(default_factory=list)
    flx: str = Field(default="", description="FLX versions supported, e.g. '>=0.1,<1'")
    entry: str
    provides: list[str] = Field(default_factory=list)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        if not _NAME.fullmatch(v):
            raise ValueError("use lowercase letters, digits, '-' or '_'")
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
    def _requires(cls, v: list[str]) -> list[str]:
        for item in v:
            try:
                Requirement(item)
            except InvalidRequirement as exc:
                raise ValueError(f"{item!r} is not a requirement: {exc}") from None
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

    @property
    def parsed_version(self) -> Version:
        return Version(self.version)

    @property
    def requirements(self) -> list[Requirement]:
        return [Requirement(r) for r in self.requires]


def manifest_from(data: Any, source: str) -> PluginManifest:
    if not isinstance(data, dict):
        raise ManifestError(source, "the manifest must be a table of fields")
    try:
        return PluginManifest.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "(manifest)"
        msg = str(err["msg"]).removeprefix("Value error, ")
        raise ManifestError(source, f"field {field!r}: {msg}") from None


def load_manifest(path: Path) -> PluginManifest:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ManifestError(str(path), f"cannot read: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ManifestError(str(path), f"invalid TOML: {exc}") from None
    return manifest_from(data, str(path))

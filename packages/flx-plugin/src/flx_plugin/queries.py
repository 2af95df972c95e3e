"""The extensions as the bus reports them: what `flx extension list` and `flx extension info`
print, for adapters that only send messages (the API).

``handlers`` is this context's handler table; ``host.build_module`` binds the settings.
The answer is the CLI's: what a running `flx extension watch` has active (``live``), else
what a fresh discovery and resolution would load.
"""

from __future__ import annotations

import asyncio
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from flx_core.application import ApplicationModule, HandlerContext, Query
from flx_core.domain import DomainError, NotFound, Permission, ServiceResult

handlers = ApplicationModule("plugin", depends_on=("core",))

#: The states in which an extension runs (or would), preferred by ``GetExtension``.
RUNNING_STATES = ("active", "resolved")


class ExtensionConfigUnusable(DomainError):
    """``extensions.toml`` cannot be read: the message names the file and the key."""

    code = "extension_config_unusable"


class ListExtensions(Query):
    """Every extension: kind, version, source, state and why one does not run. Reading
    them needs the permission to read plugins: both are code FLX runs."""

    permission = Permission.PLUGIN_READ


class GetExtension(Query):
    """Extension ``name``: the version that runs (or would), and the others found."""

    permission = Permission.PLUGIN_READ

    name: str = Field(min_length=1)


class ExtensionView(BaseModel):
    """One extension (one version of it) and its state."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    name: str
    kind: str | None = None
    version: str | None = None
    source: str = Field(default="", description="Its folder, or its entry point")
    origin: str | None = Field(default=None, description="directory or entry_point")
    state: str = Field(description="active, resolved, loaded, inactive or failed")
    reason: str | None = Field(default=None, description="Why it does not run")
    activated_at: datetime | None = None
    description: str = ""
    requires: list[str] = Field(default_factory=list)
    provides: list[str] = Field(default_factory=list)
    versions: list[str] = Field(default_factory=list, description="Every version found")
    live: bool = Field(
        default=False,
        description="From a running `flx extension watch`; else what would load",
    )


class ExtensionInfo(ExtensionView):
    others: list[ExtensionView] = Field(
        default_factory=list, description="The other versions or copies found"
    )


def _rows(settings: Any) -> list[ExtensionView]:
    from flx_plugin.config import ExtensionConfigError
    from flx_plugin.reports import extension_rows

    try:
        return [ExtensionView.model_validate(row) for row in extension_rows(settings)]
    except ExtensionConfigError as exc:
        raise ExtensionConfigUnusable(str(exc)) from None


async def _extensions(settings: Any) -> list[ExtensionView]:
    # Discovery reads folders and entry points (and imports the latter): not on the loop.
    return await asyncio.to_thread(_rows, settings)


@handlers.query(ListExtensions)
async def list_extensions(
    qry: ListExtensions, ctx: HandlerContext, *, settings: Any
) -> ServiceResult[list[ExtensionView]]:
    return ServiceResult.success(await _extensions(settings))


@handlers.query(GetExtension)
async def get_extension(
    qry: GetExtension, ctx: HandlerContext, *, settings: Any
) -> ServiceResult[ExtensionInfo]:
    found = [e for e in await _extensions(settings) if e.name == qry.name]
    if not found:
        raise NotFound(f"no extension named {qry.name!r}", extension=qry.name)
    chosen = next((e for e in found if e.state in RUNNING_STATES), found[0])
    others = [e for e in found if e is not chosen]
    return ServiceResult.success(ExtensionInfo(**chosen.model_dump(), others=others))

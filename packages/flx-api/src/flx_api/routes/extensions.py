"""``/extensions``: the code that extends FLX itself (not connectors: those are plugins),
as `flx extension list` and `flx extension info` report it."""

from __future__ import annotations

from fastapi import APIRouter

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_plugin import ExtensionInfo, ExtensionView, GetExtension, ListExtensions

router = APIRouter(
    prefix="/extensions",
    tags=["extensions"],
    # 500: extensions.toml on the server cannot be read (code extension_config_unusable).
    responses=problem_responses(401, 403, 429, 500),
)


@router.get("", response_model=list[ExtensionView])
async def list_extensions(bus: Bus) -> list[ExtensionView]:
    """Every extension with its state: what a running `flx extension watch` has active
    (``live``), else what would load."""
    found: list[ExtensionView] = await bus(ListExtensions())
    return found


@router.get("/{name}", response_model=ExtensionInfo, responses=problem_responses(404))
async def get_extension(name: str, bus: Bus) -> ExtensionInfo:
    """An extension: the version that runs (or would), and the other versions found."""
    info: ExtensionInfo = await bus(GetExtension(name=name))
    return info

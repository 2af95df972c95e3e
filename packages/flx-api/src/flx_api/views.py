"""Shapes of responses shared by several routers: pages, and resources with secrets masked.

Domain objects are the response models (one definition of a pipeline, in the domain);
what the API adds is the masking of secret settings and the page envelope.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, Field

from flx_api.deps import Dispatcher
from flx_core.application import ListPlugins
from flx_core.domain import Pipeline, Plugin

T = TypeVar("T")


class PageOf(BaseModel, Generic[T]):
    """One page of a list. Pass ``next_cursor`` as ``cursor`` for the next page; it is
    null on the last page. Pages are keyset-paginated: as fast at the end as at the start."""

    items: list[T]
    next_cursor: str | None = Field(default=None)


async def secret_names(bus: Dispatcher) -> dict[str, frozenset[str]]:
    """The settings each plugin declares secret (plugin name -> names)."""
    plugins = await bus(ListPlugins())
    return {p.name: p.secret_names for p in plugins}


def masked_pipeline(pipeline: Pipeline, declared: dict[str, frozenset[str]]) -> Pipeline:
    return pipeline.model_copy(update={"config": pipeline.masked_config(declared)})


def masked_plugin(plugin: Plugin) -> Plugin:
    return plugin.model_copy(update={"config": plugin.masked(dict(plugin.config))})


def etag(version: int) -> str:
    return f'"{version}"'


def version_from(if_match: str | None) -> int | None:
    """The version an ``If-Match`` header names (``"3"``, ``W/"3"`` or ``3``)."""
    if if_match is None or if_match.strip() == "*":
        return None
    value = if_match.strip().removeprefix("W/").strip('"')
    from flx_api.problems import ApiProblem

    if not (value.isascii() and value.isdigit()):
        # No version has this tag, so the condition cannot hold (RFC 9110, 13.1.1).
        raise ApiProblem(
            412,
            "precondition_failed",
            f'If-Match names no version: it takes the ETag ("3"), not {if_match!r}',
        )
    return int(value)

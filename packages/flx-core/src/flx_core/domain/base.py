"""Identifier types of the domain."""

from __future__ import annotations

from typing import Annotated, NewType
from uuid import uuid4

from pydantic import StringConstraints

DomainId = Annotated[str, StringConstraints(min_length=1, max_length=64)]

PipelineId = NewType("PipelineId", str)
ExecutionId = NewType("ExecutionId", str)
PluginId = NewType("PluginId", str)
UserId = NewType("UserId", str)


def new_id() -> str:
    """A new random identifier (a UUID4 in hex, 32 characters)."""
    return uuid4().hex

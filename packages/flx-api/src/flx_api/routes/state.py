"""``/state``: the Singer state of pipelines, versioned: read, set, clear, history, restore,
export and import.

A pipeline's state id is its name unless the pipeline sets another. Every change writes a
new version (clearing writes an empty one), so a restore can always go back. ``/state/export``
and ``/state/import`` are declared before ``/state/{state_id}``: a state id cannot be
``export`` or ``import`` over this API.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_core.domain.ports import StateVersion
from flx_meltano import (
    ClearState,
    ExportStates,
    GetState,
    ImportStates,
    ListStates,
    RestoreState,
    SetState,
    StateHistory,
)

router = APIRouter(
    prefix="/state",
    tags=["state"],
    responses=problem_responses(401, 403, 404, 422, 429),
)

ExportFormat = Literal["flx-state-export/1"]


class StateExport(BaseModel):
    """Current states by id: what ``GET /state/export`` answers and ``POST /state/import``
    takes (the file of `flx state export`)."""

    format: ExportFormat = "flx-state-export/1"
    states: dict[str, dict[str, Any]]


class NewState(BaseModel):
    value: dict[str, Any] = Field(description="The Singer state (a JSON object)")
    merge: bool = Field(default=False, description="Lay the value over the current state")
    note: str = Field(default="set over the API", max_length=500)


class Restore(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1, description="The version to make current again")


@router.get("", response_model=list[StateVersion])
async def list_states(bus: Bus) -> list[StateVersion]:
    """Every state id with its current version."""
    states: list[StateVersion] = await bus(ListStates())
    return states


@router.get("/export", response_model=StateExport)
async def export_states(
    bus: Bus,
    state_id: Annotated[
        list[str] | None, Query(description="Only these ids (repeatable; default: all)")
    ] = None,
) -> StateExport:
    document = await bus(ExportStates(state_ids=state_id or []))
    return StateExport.model_validate(document)


@router.post("/import", response_model=list[StateVersion])
async def import_states(body: StateExport, bus: Bus) -> list[StateVersion]:
    """Load an export; each state becomes a new version of its id."""
    saved: list[StateVersion] = await bus(ImportStates(states=body.states))
    return saved


@router.get("/{state_id}", response_model=StateVersion)
async def get_state(state_id: str, bus: Bus) -> StateVersion:
    """The current version of a state."""
    found: StateVersion = await bus(GetState(state_id=state_id))
    return found


@router.put("/{state_id}", response_model=StateVersion)
async def set_state(state_id: str, body: NewState, bus: Bus) -> StateVersion:
    """Store a new version of a state."""
    saved: StateVersion = await bus(
        SetState(state_id=state_id, value=body.value, merge=body.merge, note=body.note)
    )
    return saved


@router.delete("/{state_id}", response_model=StateVersion)
async def clear_state(state_id: str, bus: Bus) -> StateVersion:
    """Empty a state (the next run extracts everything): the new, empty version. The
    history keeps the versions before it."""
    cleared: StateVersion = await bus(ClearState(state_id=state_id))
    return cleared


@router.get("/{state_id}/history", response_model=list[StateVersion])
async def get_state_history(
    state_id: str, bus: Bus, limit: Annotated[int, Query(ge=1, le=1000)] = 50
) -> list[StateVersion]:
    """The versions of a state, newest first."""
    versions: list[StateVersion] = await bus(StateHistory(state_id=state_id, limit=limit))
    return versions


@router.post("/{state_id}/restore", response_model=StateVersion)
async def restore_state(state_id: str, body: Restore, bus: Bus) -> StateVersion:
    """Make an older version current again (as a new version)."""
    saved: StateVersion = await bus(RestoreState(state_id=state_id, version=body.version))
    return saved

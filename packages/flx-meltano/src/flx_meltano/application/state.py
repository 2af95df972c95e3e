"""State use cases: get, set, clear, history, restore, export and import."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from flx_core.application import Command, HandlerContext, Query
from flx_core.domain import NotFound, Permission, ServiceResult, ValidationFailed
from flx_core.domain.ports import StateStorePort, StateVersion
from flx_meltano.application.module import handlers
from flx_meltano.state import merge_states


class GetState(Query):
    permission = Permission.STATE_READ

    state_id: str


class ListStates(Query):
    permission = Permission.STATE_READ


class StateHistory(Query):
    permission = Permission.STATE_READ

    state_id: str
    limit: int = Field(default=50, ge=1, le=1000)


class SetState(Command):
    """Store ``value`` as the new state (``merge`` lays it over the current one)."""

    permission = Permission.STATE_WRITE

    state_id: str
    value: dict[str, Any]
    merge: bool = False
    note: str = "set by hand"


class ClearState(Command):
    permission = Permission.STATE_WRITE

    state_id: str


class RestoreState(Command):
    permission = Permission.STATE_WRITE

    state_id: str
    version: int = Field(ge=1)


class ImportStates(Command):
    """Load an export: ``{"states": {state_id: value}}`` (each becomes a new version)."""

    permission = Permission.STATE_WRITE

    states: dict[str, dict[str, Any]]


class ExportStates(Query):
    permission = Permission.STATE_READ

    state_ids: list[str] = Field(default_factory=list)


@handlers.query(GetState)
async def get_state(
    qry: GetState, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[StateVersion]:
    found = await store.get(qry.state_id)
    if found is None:
        raise NotFound(f"no state stored for {qry.state_id!r}", state_id=qry.state_id)
    return ServiceResult.success(found)


@handlers.query(ListStates)
async def list_states(
    qry: ListStates, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[list[StateVersion]]:
    out = []
    for state_id in await store.list_ids():
        current = await store.get(state_id)
        if current is not None:
            out.append(current)
    return ServiceResult.success(out)


@handlers.query(StateHistory)
async def state_history(
    qry: StateHistory, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[list[StateVersion]]:
    versions = await store.history(qry.state_id, limit=qry.limit)
    if not versions:
        raise NotFound(f"no state stored for {qry.state_id!r}", state_id=qry.state_id)
    return ServiceResult.success(versions)


@handlers.command(SetState)
async def set_state(
    cmd: SetState, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[StateVersion]:
    value = cmd.value
    if cmd.merge:
        current = await store.get(cmd.state_id)
        value = merge_states(current.value if current else {}, value)
    return ServiceResult.success(await store.set(cmd.state_id, value, note=cmd.note))


@handlers.command(ClearState)
async def clear_state(
    cmd: ClearState, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[StateVersion]:
    """The new, empty version (the history keeps the ones before it)."""
    await store.clear(cmd.state_id)
    cleared = await store.get(cmd.state_id)
    if cleared is None:  # deleted by another process since
        raise NotFound(f"no state stored for {cmd.state_id!r}", state_id=cmd.state_id)
    return ServiceResult.success(cleared)


@handlers.command(RestoreState)
async def restore_state(
    cmd: RestoreState, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[StateVersion]:
    return ServiceResult.success(await store.restore(cmd.state_id, cmd.version))


@handlers.command(ImportStates)
async def import_states(
    cmd: ImportStates, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[list[StateVersion]]:
    if not cmd.states:
        raise ValidationFailed("the import holds no states")
    out = [await store.set(sid, value, note="imported") for sid, value in cmd.states.items()]
    return ServiceResult.success(out)


@handlers.query(ExportStates)
async def export_states(
    qry: ExportStates, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[dict[str, Any]]:
    ids = qry.state_ids or await store.list_ids()
    states: dict[str, Any] = {}
    for sid in ids:
        current = await store.get(sid)
        if current is None:
            raise NotFound(f"no state stored for {sid!r}", state_id=sid)
        states[sid] = current.value
    return ServiceResult.success({"format": "flx-state-export/1", "states": states})

"""StateService: the Singer state of pipelines, versioned."""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio

from flx_grpc._caller import build, current
from flx_grpc._convert import plain, to_proto, to_protos
from flx_grpc._errors import invalid_field
from flx_grpc._generated.flx.v1 import state_service_pb2 as pb, state_service_pb2_grpc
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

Context: TypeAlias = aio.ServicerContext[Any, Any]

EXPORT_FORMAT = "flx-state-export/1"


class StateServicer(state_service_pb2_grpc.StateServiceServicer):
    async def ListStates(self, request: pb.ListStatesRequest, context: Context) -> Any:
        states = await current()(ListStates())
        return pb.ListStatesResponse(states=to_protos(states, pb.StateVersion))

    async def ExportStates(self, request: pb.ExportStatesRequest, context: Context) -> Any:
        document = await current()(build(ExportStates, state_ids=list(request.state_ids)))
        return to_proto(document, pb.StateExport)

    async def ImportStates(self, request: pb.ImportStatesRequest, context: Context) -> Any:
        document = plain(request.export)
        if document.get("format", EXPORT_FORMAT) != EXPORT_FORMAT:
            raise invalid_field("export.format", f"must be {EXPORT_FORMAT!r}")
        saved = await current()(build(ImportStates, states=document.get("states", {})))
        return pb.ListStatesResponse(states=to_protos(saved, pb.StateVersion))

    async def GetState(self, request: pb.GetStateRequest, context: Context) -> Any:
        found = await current()(build(GetState, state_id=request.state_id))
        return to_proto(found, pb.StateVersion)

    async def SetState(self, request: pb.SetStateRequest, context: Context) -> Any:
        message = build(
            SetState,
            state_id=request.state_id,
            value=plain(request).get("value", {}),
            merge=request.merge,
            note=request.note if request.HasField("note") else "set over gRPC",
        )
        return to_proto(await current()(message), pb.StateVersion)

    async def ClearState(self, request: pb.ClearStateRequest, context: Context) -> Any:
        found = await current()(build(ClearState, state_id=request.state_id))
        return to_proto(found, pb.StateVersion)

    async def GetStateHistory(self, request: pb.GetStateHistoryRequest, context: Context) -> Any:
        limit = request.limit or 50
        if not 1 <= limit <= 1000:
            raise invalid_field("limit", "must be between 1 and 1000")
        versions = await current()(build(StateHistory, state_id=request.state_id, limit=limit))
        return pb.GetStateHistoryResponse(versions=to_protos(versions, pb.StateVersion))

    async def RestoreState(self, request: pb.RestoreStateRequest, context: Context) -> Any:
        if not 1 <= request.version <= 2**31 - 1:
            raise invalid_field("version", "must be a version number (1 or more)")
        message = build(RestoreState, state_id=request.state_id, version=request.version)
        return to_proto(await current()(message), pb.StateVersion)

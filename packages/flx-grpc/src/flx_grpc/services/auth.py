"""AuthService: login, refresh, logout, and the caller's own account and sessions."""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio
from pydantic import SecretStr

from flx_auth import CurrentUser, ListOwnSessions, Login, Logout, Refresh, RevokeOwnSession
from flx_grpc._caller import build, current
from flx_grpc._convert import to_proto, to_protos
from flx_grpc._errors import RpcFailure
from flx_grpc._generated.flx.v1 import auth_service_pb2 as pb, auth_service_pb2_grpc, types_pb2
from flx_grpc._interceptors import bearer_token
from flx_grpc.services._base import peer_address, user_agent

Context: TypeAlias = aio.ServicerContext[Any, Any]


class AuthServicer(auth_service_pb2_grpc.AuthServiceServicer):
    async def Login(self, request: pb.LoginRequest, context: Context) -> pb.TokenPair:
        message = build(
            Login,
            email=request.email,
            password=SecretStr(request.password),
            user_agent=user_agent(context),
            address=peer_address(context),
        )
        return to_proto(await current()(message), pb.TokenPair)

    async def Refresh(self, request: pb.RefreshRequest, context: Context) -> pb.TokenPair:
        message = build(
            Refresh,
            refresh_token=SecretStr(request.refresh_token),
            user_agent=user_agent(context),
            address=peer_address(context),
        )
        return to_proto(await current()(message), pb.TokenPair)

    async def Logout(self, request: pb.LogoutRequest, context: Context) -> pb.LogoutResponse:
        access = bearer_token(context)
        refresh = request.refresh_token if request.HasField("refresh_token") else None
        if access is None and refresh is None:
            raise RpcFailure(
                "unauthenticated", "give the bearer token or the refresh token to log out"
            )
        revoked = await current()(
            Logout(
                access_token=SecretStr(access) if access else None,
                refresh_token=SecretStr(refresh) if refresh is not None else None,
            )
        )
        return pb.LogoutResponse(revoked=list(revoked or []))

    async def GetCurrentUser(self, request: pb.GetCurrentUserRequest, context: Context) -> Any:
        return to_proto(await current()(CurrentUser()), types_pb2.User)

    async def ListOwnSessions(
        self, request: pb.ListOwnSessionsRequest, context: Context
    ) -> pb.ListOwnSessionsResponse:
        found = await current()(ListOwnSessions(include_revoked=request.include_revoked))
        return pb.ListOwnSessionsResponse(sessions=to_protos(found, types_pb2.Session))

    async def RevokeOwnSession(self, request: pb.RevokeOwnSessionRequest, context: Context) -> Any:
        message = build(RevokeOwnSession, session_id=request.session_id)
        return to_proto(await current()(message), types_pb2.RevokedSessions)

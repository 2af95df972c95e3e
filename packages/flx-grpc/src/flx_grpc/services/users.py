"""UserService: accounts and their sessions (user:read to read, user:manage to change)."""

from __future__ import annotations

from typing import Any, TypeAlias

from grpc import aio
from pydantic import SecretStr

from flx_auth import (
    CreateUser,
    DeleteUser,
    GetUser,
    ListSessions,
    ListUsers,
    ResetPassword,
    RevokeAllSessions,
    RevokeSession,
    UpdateUser,
    normalize_email,
)
from flx_grpc._caller import build, current
from flx_grpc._convert import to_proto, to_protos
from flx_grpc._errors import invalid_field
from flx_grpc._generated.flx.v1 import types_pb2, user_service_pb2 as pb, user_service_pb2_grpc

Context: TypeAlias = aio.ServicerContext[Any, Any]
User = types_pb2.User


def email(value: str) -> str:
    """A user's email as the accounts store it (``Ada@X.org`` finds ``ada@x.org``)."""
    try:
        normalized: str = normalize_email(value)
    except ValueError as exc:
        raise invalid_field("email", str(exc).removeprefix("Value error, ")) from None
    return normalized


class UserServicer(user_service_pb2_grpc.UserServiceServicer):
    async def ListUsers(self, request: pb.ListUsersRequest, context: Context) -> Any:
        return pb.ListUsersResponse(users=to_protos(await current()(ListUsers()), User))

    async def CreateUser(self, request: pb.CreateUserRequest, context: Context) -> Any:
        message = build(
            CreateUser,
            email=email(request.email),
            password=SecretStr(request.password),
            roles=frozenset(request.roles),
        )
        return to_proto(await current()(message), User)

    async def GetUser(self, request: pb.GetUserRequest, context: Context) -> Any:
        return to_proto(await current()(build(GetUser, email=email(request.email))), User)

    async def UpdateUser(self, request: pb.UpdateUserRequest, context: Context) -> Any:
        paths = set(request.update_mask.paths)
        unknown = paths - {"roles", "active"}
        if unknown or not paths:
            raise invalid_field("update_mask", "name the fields to change: roles, active")
        message = build(
            UpdateUser,
            email=email(request.email),
            roles=frozenset(request.roles) if "roles" in paths else None,
            active=request.active if "active" in paths else None,
        )
        return to_proto(await current()(message), User)

    async def ResetUserPassword(
        self, request: pb.ResetUserPasswordRequest, context: Context
    ) -> Any:
        message = build(
            ResetPassword, email=email(request.email), password=SecretStr(request.password)
        )
        return to_proto(await current()(message), User)

    async def DeleteUser(self, request: pb.DeleteUserRequest, context: Context) -> Any:
        await current()(build(DeleteUser, email=email(request.email)))
        return pb.DeleteUserResponse()

    async def ListUserSessions(self, request: pb.ListUserSessionsRequest, context: Context) -> Any:
        message = build(
            ListSessions, email=email(request.email), include_revoked=request.include_revoked
        )
        sessions = to_protos(await current()(message), types_pb2.Session)
        return pb.ListUserSessionsResponse(sessions=sessions)

    async def RevokeUserSessions(
        self, request: pb.RevokeUserSessionsRequest, context: Context
    ) -> Any:
        message = build(RevokeAllSessions, email=email(request.email))
        return to_proto(await current()(message), types_pb2.RevokedSessions)

    async def RevokeUserSession(
        self, request: pb.RevokeUserSessionRequest, context: Context
    ) -> Any:
        message = build(RevokeSession, session_id=request.session_id, email=email(request.email))
        return to_proto(await current()(message), types_pb2.RevokedSessions)

"""Sessions (refresh-token families): list and revoke; signing-key rotation."""

from __future__ import annotations

import asyncio

from flx_auth.application.context import load_user, revoke_sessions, sessions
from flx_auth.application.messages import (
    ListSessions,
    RevokeAllSessions,
    RevokeSession,
    RotateKeys,
)
from flx_auth.application.module import module
from flx_auth.application.services import AuthServices
from flx_auth.application.views import KeyRotation, RevokedSessions, SessionView
from flx_auth.domain import SigningKeys
from flx_core.application import HandlerContext
from flx_core.domain import NotFound, ServiceResult


@module.query(ListSessions)
async def list_sessions(qry: ListSessions, ctx: HandlerContext) -> ServiceResult[list[SessionView]]:
    user = await load_user(ctx, qry.email)
    found = await sessions(ctx).list_for_user(user.id, include_revoked=qry.include_revoked)
    now = ctx.clock.now()
    return ServiceResult.success([SessionView.of(s, now) for s in found])


@module.command(RevokeSession)
async def revoke_session(
    cmd: RevokeSession, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[RevokedSessions]:
    session = await sessions(ctx).get(cmd.session_id)
    if session is None:
        raise NotFound(f"session {cmd.session_id!r} not found", session=cmd.session_id)
    revoked = await revoke_sessions(ctx, auth, [session], f"revoked by {ctx.principal.subject}")
    return ServiceResult.success(RevokedSessions(email=session.email, revoked=revoked))


@module.command(RevokeAllSessions)
async def revoke_all_sessions(
    cmd: RevokeAllSessions, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[RevokedSessions]:
    user = await load_user(ctx, cmd.email)
    active = await sessions(ctx).list_for_user(user.id)
    revoked = await revoke_sessions(ctx, auth, active, f"revoked by {ctx.principal.subject}")
    return ServiceResult.success(RevokedSessions(email=user.email, revoked=revoked))


@module.command(RotateKeys)
async def rotate_keys(
    cmd: RotateKeys, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[KeyRotation]:
    new, old = await asyncio.to_thread(auth.keys.rotate)
    previous = old.kid if old else None
    keys = SigningKeys()
    keys.rotated(new.kid, previous, ctx.clock.now())
    ctx.uow.track(keys)
    return ServiceResult.success(KeyRotation(kid=new.kid, previous_kid=previous))

"""Sessions (refresh-token families): list and revoke, any user's (administration) or the
caller's own; signing-key rotation."""

from __future__ import annotations

import asyncio

from flx_auth.application.context import load_user, own_account, revoke_sessions, sessions
from flx_auth.application.messages import (
    ListOwnSessions,
    ListSessions,
    RevokeAllSessions,
    RevokeOwnSession,
    RevokeSession,
    RotateKeys,
)
from flx_auth.application.module import module
from flx_auth.application.services import AuthServices
from flx_auth.application.views import KeyRotation, RevokedSessions, SessionView
from flx_auth.domain import Session, SigningKeys, User
from flx_core.application import HandlerContext
from flx_core.domain import NotFound, ServiceResult


async def _views(
    ctx: HandlerContext, user: User, include_revoked: bool
) -> ServiceResult[list[SessionView]]:
    found = await sessions(ctx).list_for_user(user.id, include_revoked=include_revoked)
    now = ctx.clock.now()
    return ServiceResult.success([SessionView.of(s, now) for s in found])


async def _session_of(ctx: HandlerContext, session_id: str, user_id: str | None) -> Session:
    """The session, or not found; with ``user_id``, another user's session is not found
    either (the same answer, so session ids of other users do not leak)."""
    session = await sessions(ctx).get(session_id)
    if session is None or (user_id is not None and session.user_id != user_id):
        raise NotFound(f"session {session_id!r} not found", session=session_id)
    return session


async def _revoke_one(
    ctx: HandlerContext, auth: AuthServices, session: Session
) -> ServiceResult[RevokedSessions]:
    revoked = await revoke_sessions(ctx, auth, [session], f"revoked by {ctx.principal.subject}")
    return ServiceResult.success(RevokedSessions(email=session.email, revoked=revoked))


@module.query(ListSessions)
async def list_sessions(qry: ListSessions, ctx: HandlerContext) -> ServiceResult[list[SessionView]]:
    return await _views(ctx, await load_user(ctx, qry.email), qry.include_revoked)


@module.command(RevokeSession)
async def revoke_session(
    cmd: RevokeSession, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[RevokedSessions]:
    owner = (await load_user(ctx, cmd.email)).id if cmd.email is not None else None
    return await _revoke_one(ctx, auth, await _session_of(ctx, cmd.session_id, owner))


@module.query(ListOwnSessions)
async def list_own_sessions(
    qry: ListOwnSessions, ctx: HandlerContext
) -> ServiceResult[list[SessionView]]:
    return await _views(ctx, await own_account(ctx), qry.include_revoked)


@module.command(RevokeOwnSession)
async def revoke_own_session(
    cmd: RevokeOwnSession, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[RevokedSessions]:
    user = await own_account(ctx)
    return await _revoke_one(ctx, auth, await _session_of(ctx, cmd.session_id, user.id))


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

"""Helpers of the auth handlers: repositories of the unit of work, the blacklist, revocation."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NoReturn

from flx_auth.application.services import AuthServices
from flx_auth.domain import Blacklist, Session, SessionRepository, User, UserRepository
from flx_core.application import HandlerContext
from flx_core.domain import DomainError, NotFound, Principal, Unauthenticated


def users(ctx: HandlerContext) -> UserRepository:
    return ctx.uow.get(UserRepository)  # type: ignore[type-abstract]


def sessions(ctx: HandlerContext) -> SessionRepository:
    return ctx.uow.get(SessionRepository)  # type: ignore[type-abstract]


def blacklist(ctx: HandlerContext, auth: AuthServices) -> Blacklist:
    """Redis when configured, else the database table in this unit of work."""
    return auth.blacklist or ctx.uow.get(Blacklist)  # type: ignore[type-abstract]


async def load_user(ctx: HandlerContext, email: str) -> User:
    user = await users(ctx).get_by_email(email)
    if user is None:
        raise NotFound(f"user {email!r} not found", email=email)
    ctx.uow.track(user)
    return user


async def own_account(ctx: HandlerContext) -> User:
    """The account the caller's principal speaks for (its subject is the user's email).

    The messages on the caller's own account need no permission, so the anonymous principal
    gets this far: it is refused here. A principal with no account (the system one) finds
    nothing."""
    principal = ctx.principal
    if not principal.is_system and principal.subject == Principal.anonymous().subject:
        raise Unauthenticated("sign in to use your own account")
    user = await users(ctx).get_by_email(principal.subject)
    if user is None:
        raise NotFound(f"no user account for {principal.subject!r}", email=principal.subject)
    ctx.uow.track(user)
    return user


async def revoke_sessions(
    ctx: HandlerContext, auth: AuthServices, targets: Sequence[Session], reason: str
) -> list[str]:
    """End sessions: their refresh tokens stop working and their live access tokens are
    blacklisted. Returns the ids of the sessions that were still active."""
    now = ctx.clock.now()
    repo = sessions(ctx)
    revoked: list[str] = []
    for session in targets:
        ctx.uow.track(session)
        if session.revoke(now, reason):
            await repo.save(session)
            revoked.append(session.id)
    await refuse_access_tokens(ctx, auth, targets)
    return revoked


async def refuse_access_tokens(
    ctx: HandlerContext, auth: AuthServices, targets: Sequence[Session]
) -> None:
    """Blacklist the access tokens these sessions issued that have not expired yet."""
    now = ctx.clock.now()
    denied = blacklist(ctx, auth)
    for grant in await sessions(ctx).access_grants([s.id for s in targets], now):
        await denied.add(grant.jti, grant.expires_at, now)


async def commit_and_raise(ctx: HandlerContext, error: DomainError) -> NoReturn:
    """Fail, but keep what the refusal recorded (failed-login counts, locks, revocations and
    their audit events): the bus commits only successful commands."""
    await ctx.uow.commit()
    for event in ctx.uow.collect_new_events():
        await ctx.app.publish(event, principal=ctx.principal)
    raise error

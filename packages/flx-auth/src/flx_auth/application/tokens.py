"""Logging in, refreshing, logging out, and checking access tokens."""

from __future__ import annotations

from datetime import datetime

from pydantic import SecretStr

from flx_auth.application.context import (
    blacklist,
    commit_and_raise,
    refuse_access_tokens,
    revoke_sessions,
    sessions,
    users,
)
from flx_auth.application.messages import Authenticate, Login, Logout, Refresh, VerifyToken
from flx_auth.application.module import module
from flx_auth.application.services import AuthServices
from flx_auth.application.views import TokenPair, VerifiedToken
from flx_auth.domain import (
    RefreshToken,
    RejectReason,
    Session,
    TokenRejected,
    UnknownAccount,
    User,
    principal_for,
)
from flx_auth.security import TokenClaims, hash_refresh_token, new_refresh_token
from flx_core.application import Application, HandlerContext
from flx_core.domain import Principal, ServiceResult, Unauthenticated, ValidationFailed, new_id

BAD_CREDENTIALS = "invalid email or password"


async def _issue(
    ctx: HandlerContext, auth: AuthServices, user: User, session: Session, now: datetime
) -> TokenPair:
    """A new access token and refresh token on ``session``."""
    svc = auth
    access = svc.tokens.issue(
        subject=user.id, roles=user.role_names, session_id=session.id, now=now
    )
    secret = new_refresh_token()
    token = RefreshToken(
        token_hash=hash_refresh_token(secret),
        session_id=session.id,
        user_id=user.id,
        issued_at=now,
        expires_at=now + svc.refresh_ttl,
        access_jti=access.claims.jti,
        access_expires_at=access.claims.exp,
    )
    await sessions(ctx).add_token(token)
    session.used(now, token.expires_at)
    return TokenPair(
        access_token=access.token,
        refresh_token=secret,
        expires_in=int((access.claims.exp - access.claims.iat).total_seconds()),
        expires_at=access.claims.exp,
        refresh_expires_at=token.expires_at,
        session_id=session.id,
    )


@module.command(Login)
async def login(cmd: Login, ctx: HandlerContext, *, auth: AuthServices) -> ServiceResult[TokenPair]:
    svc, repo, now = auth, users(ctx), ctx.clock.now()
    user = await repo.get_by_email(cmd.email)
    # Always pay for one bcrypt check, so an unknown email costs what a wrong password does.
    matches = await svc.passwords.verify(
        cmd.password.get_secret_value(), user.password_hash if user else None
    )
    if user is None:
        unknown = UnknownAccount()
        unknown.login_failed(cmd.email, now, cmd.address)
        ctx.uow.track(unknown)
        await commit_and_raise(ctx, Unauthenticated(BAD_CREDENTIALS, reason="bad_credentials"))
    ctx.uow.actor = user.email
    ctx.uow.track(user)
    if user.is_locked(now):
        user.login_refused("account_locked", now, cmd.address)
        until = user.locked_until.isoformat(timespec="seconds") if user.locked_until else "?"
        await commit_and_raise(
            ctx,
            Unauthenticated(
                f"account locked after too many failed logins; try again after {until}",
                reason="account_locked",
            ),
        )
    if not matches:
        failures = await repo.count_failure(user.id)
        user.login_failed(now, svc.policy, failures, cmd.address)
        await repo.save_login_state(user)
        await commit_and_raise(ctx, Unauthenticated(BAD_CREDENTIALS, reason="bad_credentials"))
    if not user.active:
        user.login_refused("account_disabled", now, cmd.address)
        await commit_and_raise(ctx, Unauthenticated("account disabled", reason="account_disabled"))
    session = Session(
        id=new_id(),
        user_id=user.id,
        email=user.email,
        created_at=now,
        last_used_at=now,
        expires_at=now + svc.refresh_ttl,
        user_agent=cmd.user_agent,
        address=cmd.address,
    )
    await sessions(ctx).purge_tokens(now)
    await sessions(ctx).add(session)
    pair = await _issue(ctx, auth, user, session, now)
    await sessions(ctx).save(session)
    user.login_succeeded(now, session.id, cmd.user_agent, cmd.address)
    await repo.save_login_state(user)
    return ServiceResult.success(pair)


@module.command(Refresh)
async def refresh(
    cmd: Refresh, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[TokenPair]:
    now, repo = ctx.clock.now(), sessions(ctx)
    token_hash = hash_refresh_token(cmd.refresh_token.get_secret_value())
    token = await repo.find_token(token_hash)
    session = await repo.get(token.session_id) if token else None
    if token is None or session is None:
        raise TokenRejected(RejectReason.UNKNOWN_REFRESH_TOKEN)
    if session.is_revoked:
        raise TokenRejected(RejectReason.SESSION_REVOKED, session.revoked_reason or "")
    if token.used_at is not None or not await repo.claim_token(token_hash, now):
        # A spent token came back: the legitimate client or a thief holds a copy. End the
        # whole session so neither can go on with it.
        ctx.uow.track(session)
        ctx.uow.actor = session.email
        session.reuse_detected(now)
        await repo.save(session)
        await refuse_access_tokens(ctx, auth, [session])
        await commit_and_raise(
            ctx, TokenRejected(RejectReason.REFRESH_TOKEN_REUSED, "the session is revoked")
        )
    if token.is_expired(now):
        raise TokenRejected(RejectReason.EXPIRED, "refresh token expired")
    user = await users(ctx).get(token.user_id)
    if user is None:
        raise TokenRejected(RejectReason.USER_DELETED)
    if not user.active:
        raise TokenRejected(RejectReason.USER_DISABLED)
    ctx.uow.actor = user.email
    pair = await _issue(ctx, auth, user, session, now)
    await repo.save(session)
    return ServiceResult.success(pair)


async def _verified(
    ctx: HandlerContext, auth: AuthServices, token: str
) -> tuple[TokenClaims, User]:
    """Claims of a valid, unrevoked token of an existing, active user."""
    now = ctx.clock.now()
    claims = auth.tokens.decode(token, now)
    # The account first: "user disabled" explains more than the revocation disabling caused.
    user = await users(ctx).get(claims.sub)
    if user is None:
        raise TokenRejected(RejectReason.USER_DELETED, "the user no longer exists")
    if not user.active:
        raise TokenRejected(RejectReason.USER_DISABLED, "the user is disabled")
    if await blacklist(ctx, auth).contains(claims.jti, now):
        raise TokenRejected(RejectReason.REVOKED, "by logout or revocation")
    return claims, user


@module.query(VerifyToken)
async def verify_token(
    qry: VerifyToken, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[VerifiedToken]:
    claims, user = await _verified(ctx, auth, qry.token.get_secret_value())
    return ServiceResult.success(
        VerifiedToken(claims=claims, email=user.email, roles=user.role_names)
    )


@module.query(Authenticate)
async def authenticate_token(
    qry: Authenticate, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[Principal]:
    _, user = await _verified(ctx, auth, qry.token.get_secret_value())
    return ServiceResult.success(principal_for(user))


async def authenticate(app: Application, token: str) -> Principal:
    """The principal of a bearer token, for adapters; raises TokenRejected with the reason.

    The roles are the user's current ones, so a role change applies at once.
    """
    result = await app.execute(
        Authenticate(token=SecretStr(token)), principal=Principal.anonymous()
    )
    if result.ok and isinstance(result.value, Principal):
        return result.value
    try:
        reason = RejectReason(str(result.details.get("reason")))
    except ValueError:
        raise Unauthenticated(result.message or "authentication failed") from None
    raise TokenRejected(reason, str(result.details.get("detail", "")))


@module.command(Logout)
async def logout(
    cmd: Logout, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[list[str]]:
    """Blacklist the access token and end its session (with every token the session made)."""
    svc, now = auth, ctx.clock.now()
    if cmd.access_token is None and cmd.refresh_token is None:
        raise ValidationFailed("give the access token, the refresh token, or both")
    session_id: str | None = None
    user_id: str | None = None
    if cmd.access_token is not None:
        # An expired access token may still log out: the signature proves who holds it.
        claims = svc.tokens.decode(cmd.access_token.get_secret_value(), now, check_expiry=False)
        await blacklist(ctx, auth).add(claims.jti, claims.exp, now)
        session_id, user_id = claims.sid, claims.sub
    if cmd.refresh_token is not None:
        token_hash = hash_refresh_token(cmd.refresh_token.get_secret_value())
        token = await sessions(ctx).find_token(token_hash)
        if token is None:
            raise TokenRejected(RejectReason.UNKNOWN_REFRESH_TOKEN)
        if session_id is not None and token.session_id != session_id:
            raise ValidationFailed("the access and refresh tokens belong to different sessions")
        session_id, user_id = token.session_id, token.user_id
    session = await sessions(ctx).get(session_id) if session_id else None
    revoked = await revoke_sessions(ctx, auth, [session], "logout") if session else []
    user = await users(ctx).get(user_id) if user_id else None
    if user is not None:
        ctx.uow.actor = user.email
        ctx.uow.track(user)
        user.logged_out(session_id, now)
    return ServiceResult.success(revoked)

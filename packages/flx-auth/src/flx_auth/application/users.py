"""User administration: create, change roles, disable, enable, delete, reset password; and
the caller's own account."""

from __future__ import annotations

from flx_auth.application.context import (
    load_user,
    own_account,
    revoke_sessions,
    sessions,
    users,
)
from flx_auth.application.messages import (
    CreateUser,
    CurrentUser,
    DeleteUser,
    DisableUser,
    EnableUser,
    GetUser,
    ListUsers,
    ResetPassword,
    SetUserRole,
    UpdateUser,
)
from flx_auth.application.module import module
from flx_auth.application.services import AuthServices
from flx_auth.application.views import UserView
from flx_auth.domain import Role, User
from flx_core.application import HandlerContext
from flx_core.domain import AlreadyExists, ServiceResult, ValidationFailed


async def _keep_an_admin(ctx: HandlerContext, user: User, action: str) -> None:
    """Refuse to leave the system without an active admin."""
    if user.is_admin and user.active and await users(ctx).count_active_admins() <= 1:
        raise ValidationFailed(
            f"cannot {action} {user.email}: it is the last active admin", email=user.email
        )


@module.command(CreateUser)
async def create_user(
    cmd: CreateUser, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[UserView]:
    repo = users(ctx)
    if await repo.get_by_email(cmd.email):
        raise AlreadyExists(f"user {cmd.email!r} already exists", email=cmd.email)
    password_hash = await auth.passwords.hash(cmd.password.get_secret_value())
    user = User.create(
        email=cmd.email, password_hash=password_hash, roles=cmd.roles, now=ctx.clock.now()
    )
    await repo.add(user)
    ctx.uow.track(user)
    return ServiceResult.success(UserView.of(user))


async def _set_roles(ctx: HandlerContext, user: User, roles: frozenset[Role]) -> None:
    if Role.ADMIN not in roles:
        await _keep_an_admin(ctx, user, "remove the admin role from")
    if user.change_roles(roles, ctx.clock.now()):
        await users(ctx).save(user)


async def _disable(ctx: HandlerContext, auth: AuthServices, user: User) -> None:
    await _keep_an_admin(ctx, user, "disable")
    if user.disable(ctx.clock.now()):
        await users(ctx).save(user)
    await revoke_sessions(ctx, auth, await sessions(ctx).list_for_user(user.id), "user disabled")


async def _enable(ctx: HandlerContext, user: User) -> None:
    if user.enable(ctx.clock.now()):
        await users(ctx).save(user)
        await users(ctx).save_login_state(user)


@module.command(SetUserRole)
async def set_user_role(cmd: SetUserRole, ctx: HandlerContext) -> ServiceResult[UserView]:
    user = await load_user(ctx, cmd.email)
    await _set_roles(ctx, user, cmd.roles)
    return ServiceResult.success(UserView.of(user))


@module.command(DisableUser)
async def disable_user(
    cmd: DisableUser, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[UserView]:
    user = await load_user(ctx, cmd.email)
    await _disable(ctx, auth, user)
    return ServiceResult.success(UserView.of(user))


@module.command(EnableUser)
async def enable_user(cmd: EnableUser, ctx: HandlerContext) -> ServiceResult[UserView]:
    user = await load_user(ctx, cmd.email)
    await _enable(ctx, user)
    return ServiceResult.success(UserView.of(user))


@module.command(UpdateUser)
async def update_user(
    cmd: UpdateUser, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[UserView]:
    """Roles first, then the active flag: disabling someone who just lost the admin role
    does not count them among the admins to keep."""
    user = await load_user(ctx, cmd.email)
    if cmd.roles is not None:
        await _set_roles(ctx, user, cmd.roles)
    if cmd.active is True:
        await _enable(ctx, user)
    elif cmd.active is False:
        await _disable(ctx, auth, user)
    return ServiceResult.success(UserView.of(user))


@module.command(DeleteUser)
async def delete_user(
    cmd: DeleteUser, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[UserView]:
    user = await load_user(ctx, cmd.email)
    await _keep_an_admin(ctx, user, "delete")
    repo = sessions(ctx)
    await revoke_sessions(ctx, auth, await repo.list_for_user(user.id), "user deleted")
    await repo.delete_for_user(user.id)
    user.delete(ctx.clock.now())
    await users(ctx).delete(user)
    return ServiceResult.success(UserView.of(user))


@module.command(ResetPassword)
async def reset_password(
    cmd: ResetPassword, ctx: HandlerContext, *, auth: AuthServices
) -> ServiceResult[UserView]:
    user = await load_user(ctx, cmd.email)
    password_hash = await auth.passwords.hash(cmd.password.get_secret_value())
    user.reset_password(password_hash, ctx.clock.now())
    await users(ctx).save(user)
    await users(ctx).save_login_state(user)
    await revoke_sessions(ctx, auth, await sessions(ctx).list_for_user(user.id), "password reset")
    return ServiceResult.success(UserView.of(user))


@module.query(GetUser)
async def get_user(qry: GetUser, ctx: HandlerContext) -> ServiceResult[UserView]:
    return ServiceResult.success(UserView.of(await load_user(ctx, qry.email)))


@module.query(ListUsers)
async def list_users(qry: ListUsers, ctx: HandlerContext) -> ServiceResult[list[UserView]]:
    return ServiceResult.success([UserView.of(u) for u in await users(ctx).list()])


@module.query(CurrentUser)
async def current_user(qry: CurrentUser, ctx: HandlerContext) -> ServiceResult[UserView]:
    return ServiceResult.success(UserView.of(await own_account(ctx)))

"""The first admin, from ``FLX_ADMIN_EMAIL`` and ``FLX_ADMIN_PASSWORD`` (no default exists)."""

from __future__ import annotations

import structlog

from flx_auth.application.messages import CreateUser, GetUser
from flx_auth.application.services import AuthServices
from flx_auth.domain import Role
from flx_core.application import Application
from flx_core.config import FlxSettings, SettingsError
from flx_core.domain import DomainError, Principal

log = structlog.get_logger(__name__)


async def create_first_admin(app: Application, settings: FlxSettings, auth: AuthServices) -> None:
    """Create the configured admin unless that user exists (runs on every start)."""
    if not settings.admin_email and not settings.admin_password:
        return
    if not settings.admin_email or not settings.admin_password:
        raise SettingsError(
            "invalid setting FLX_ADMIN_EMAIL/FLX_ADMIN_PASSWORD: set both to create the admin"
        )
    system = Principal.system()
    try:
        email = GetUser(email=settings.admin_email).email
    except ValueError:
        raise SettingsError("invalid setting FLX_ADMIN_EMAIL: not an email address") from None
    try:  # before touching the database: a bad setting must stop the start at once
        auth.passwords.check_policy(settings.admin_password.get_secret_value())
    except DomainError as exc:
        raise SettingsError(f"invalid setting FLX_ADMIN_PASSWORD: {exc.message}") from None
    if (await app.execute(GetUser(email=email), principal=system)).ok:
        return
    created = await app.execute(
        CreateUser(email=email, password=settings.admin_password, roles=frozenset({Role.ADMIN})),
        principal=system,
    )
    if created.error_code == "already_exists":  # another process was first
        return
    if not created.ok:
        raise SettingsError(f"invalid setting FLX_ADMIN_PASSWORD: {created.message}")
    log.info("admin_created", email=email)

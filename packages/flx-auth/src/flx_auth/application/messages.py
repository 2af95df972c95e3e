"""Commands and queries of the auth context, with the permission each requires.

Passwords and tokens travel as ``SecretStr``: a message's repr never shows them.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field, SecretStr, StringConstraints

from flx_auth.domain import Role, normalize_email
from flx_core.application import Command, Query
from flx_core.domain import Permission

Email = Annotated[str, AfterValidator(normalize_email)]
UserAgent = Annotated[str, StringConstraints(max_length=512)]
Address = Annotated[str, StringConstraints(max_length=128)]
Roles = Annotated[frozenset[Role], Field(min_length=1)]
SessionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


# -- users ------------------------------------------------------------------------------
class CreateUser(Command):
    permission = Permission.USER_MANAGE

    email: Email
    password: SecretStr
    roles: Roles = frozenset({Role.VIEWER})


class SetUserRole(Command):
    """Replace the user's roles."""

    permission = Permission.USER_MANAGE

    email: Email
    roles: Roles


class DisableUser(Command):
    """Refuse the user's logins and tokens, and end their sessions."""

    permission = Permission.USER_MANAGE

    email: Email


class EnableUser(Command):
    """Accept the user again (this also lifts a login lock)."""

    permission = Permission.USER_MANAGE

    email: Email


class UpdateUser(Command):
    """Change the roles, the active flag, or both, in one unit of work: either every
    change applies or none (the rules of SetUserRole, DisableUser and EnableUser hold)."""

    permission = Permission.USER_MANAGE

    email: Email
    roles: Roles | None = None
    active: bool | None = None


class DeleteUser(Command):
    permission = Permission.USER_MANAGE

    email: Email


class ResetPassword(Command):
    """Set a new password; ends the user's sessions and lifts a login lock."""

    permission = Permission.USER_MANAGE

    email: Email
    password: SecretStr


class GetUser(Query):
    permission = Permission.USER_READ

    email: Email


class ListUsers(Query):
    permission = Permission.USER_READ


# -- tokens -----------------------------------------------------------------------------
class Login(Command):
    """Exchange an email and password for an access and a refresh token (a new session)."""

    permission = None

    email: Email
    password: SecretStr
    user_agent: UserAgent | None = None
    address: Address | None = None


class Refresh(Command):
    """Exchange a refresh token for a new pair; the old refresh token is spent."""

    permission = None

    refresh_token: SecretStr
    user_agent: UserAgent | None = None
    address: Address | None = None


class Logout(Command):
    """End the session of these tokens. Holding the tokens is the authorization."""

    permission = None

    access_token: SecretStr | None = None
    refresh_token: SecretStr | None = None


class VerifyToken(Query):
    """The claims of a valid access token, or the exact reason it is rejected."""

    permission = None

    token: SecretStr


class Authenticate(Query):
    """The principal an access token speaks for (what adapters call on each request)."""

    permission = None

    token: SecretStr


# -- sessions and keys --------------------------------------------------------------------
class ListSessions(Query):
    permission = Permission.USER_READ

    email: Email
    include_revoked: bool = False


class RevokeSession(Command):
    """End one session. With ``email``, the session must be that user's (else not found),
    so an address naming the user cannot reach another user's session."""

    permission = Permission.USER_MANAGE

    session_id: SessionId
    email: Email | None = None


class RevokeAllSessions(Command):
    permission = Permission.USER_MANAGE

    email: Email


class RotateKeys(Command):
    """A new signing key; the previous one still verifies the tokens it signed."""

    permission = Permission.SYSTEM_ADMIN


# -- the caller's own account ---------------------------------------------------------------
# No permission at the bus: every signed-in user may see their own account and end their own
# sessions. The handlers refuse the anonymous principal and act only on the account the
# principal speaks for (its subject is the user's email).
class CurrentUser(Query):
    """The caller's own account."""

    permission = None


class ListOwnSessions(Query):
    """The caller's own sessions, newest first."""

    permission = None

    include_revoked: bool = False


class RevokeOwnSession(Command):
    """End one of the caller's own sessions; another user's session is not found."""

    permission = None

    session_id: SessionId

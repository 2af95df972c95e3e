"""FLX auth: users, roles, passwords, RS256 access tokens, refresh sessions and revocation.

The public face of the package. Adapters send the commands and queries below through the
application bus and turn bearer tokens into principals with :func:`authenticate`; the module
itself reaches the composition root through the ``flx.modules`` entry point
(``flx_auth.module``).
"""

from flx_auth.application import (
    Authenticate as Authenticate,
    AuthServices as AuthServices,
    CreateUser as CreateUser,
    CurrentUser as CurrentUser,
    DeleteUser as DeleteUser,
    DisableUser as DisableUser,
    EnableUser as EnableUser,
    GetUser as GetUser,
    KeyRotation as KeyRotation,
    ListOwnSessions as ListOwnSessions,
    ListSessions as ListSessions,
    ListUsers as ListUsers,
    Login as Login,
    Logout as Logout,
    Refresh as Refresh,
    ResetPassword as ResetPassword,
    RevokeAllSessions as RevokeAllSessions,
    RevokedSessions as RevokedSessions,
    RevokeOwnSession as RevokeOwnSession,
    RevokeSession as RevokeSession,
    RotateKeys as RotateKeys,
    SessionView as SessionView,
    SetUserRole as SetUserRole,
    TokenPair as TokenPair,
    UpdateUser as UpdateUser,
    UserView as UserView,
    VerifiedToken as VerifiedToken,
    VerifyToken as VerifyToken,
    authenticate as authenticate,
)
from flx_auth.domain import (
    ROLE_PERMISSIONS as ROLE_PERMISSIONS,
    Blacklist as Blacklist,
    LoginPolicy as LoginPolicy,
    RejectReason as RejectReason,
    Role as Role,
    Session as Session,
    SessionRepository as SessionRepository,
    TokenRejected as TokenRejected,
    User as User,
    UserRepository as UserRepository,
    normalize_email as normalize_email,
    permissions_for as permissions_for,
    principal_for as principal_for,
)
from flx_auth.domain.events import (
    AccountLocked as AccountLocked,
    LoggedOut as LoggedOut,
    LoginFailed as LoginFailed,
    LoginSucceeded as LoginSucceeded,
    PasswordReset as PasswordReset,
    RefreshTokenReuseDetected as RefreshTokenReuseDetected,
    SessionRevoked as SessionRevoked,
    SigningKeyRotated as SigningKeyRotated,
    UserCreated as UserCreated,
    UserDeleted as UserDeleted,
    UserRoleChanged as UserRoleChanged,
    UserUpdated as UserUpdated,
)
from flx_auth.security import TokenClaims as TokenClaims

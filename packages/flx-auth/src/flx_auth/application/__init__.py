"""Auth use cases: the messages, the views they return, and the handlers on the module."""

from flx_auth.application import sessions as _sessions, tokens as _tokens, users as _users
from flx_auth.application.first_admin import create_first_admin as create_first_admin
from flx_auth.application.messages import (
    Authenticate as Authenticate,
    CreateUser as CreateUser,
    CurrentUser as CurrentUser,
    DeleteUser as DeleteUser,
    DisableUser as DisableUser,
    EnableUser as EnableUser,
    GetUser as GetUser,
    ListOwnSessions as ListOwnSessions,
    ListSessions as ListSessions,
    ListUsers as ListUsers,
    Login as Login,
    Logout as Logout,
    Refresh as Refresh,
    ResetPassword as ResetPassword,
    RevokeAllSessions as RevokeAllSessions,
    RevokeOwnSession as RevokeOwnSession,
    RevokeSession as RevokeSession,
    RotateKeys as RotateKeys,
    SetUserRole as SetUserRole,
    UpdateUser as UpdateUser,
    VerifyToken as VerifyToken,
)
from flx_auth.application.module import module as module
from flx_auth.application.services import AuthServices as AuthServices
from flx_auth.application.tokens import authenticate as authenticate
from flx_auth.application.views import (
    KeyRotation as KeyRotation,
    RevokedSessions as RevokedSessions,
    SessionView as SessionView,
    TokenPair as TokenPair,
    UserView as UserView,
    VerifiedToken as VerifiedToken,
)

del _sessions, _tokens, _users

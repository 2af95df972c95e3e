"""The auth domain: users, roles, sessions and their events; no framework."""

from flx_auth.domain.errors import RejectReason as RejectReason, TokenRejected as TokenRejected
from flx_auth.domain.ports import (
    Blacklist as Blacklist,
    SessionRepository as SessionRepository,
    UserRepository as UserRepository,
)
from flx_auth.domain.roles import (
    ROLE_PERMISSIONS as ROLE_PERMISSIONS,
    Role as Role,
    permissions_for as permissions_for,
)
from flx_auth.domain.session import (
    AccessGrant as AccessGrant,
    RefreshToken as RefreshToken,
    Session as Session,
)
from flx_auth.domain.signing import SigningKeys as SigningKeys
from flx_auth.domain.user import (
    LoginPolicy as LoginPolicy,
    UnknownAccount as UnknownAccount,
    User as User,
    normalize_email as normalize_email,
    principal_for as principal_for,
)

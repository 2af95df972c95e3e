"""The auth adapters a handler needs, provided once by the module's start hook."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flx_auth.domain import Blacklist, LoginPolicy
from flx_auth.security import AccessTokens, KeyStore, PasswordHasher


@dataclass
class AuthServices:
    passwords: PasswordHasher
    keys: KeyStore
    tokens: AccessTokens
    policy: LoginPolicy
    refresh_ttl: timedelta
    #: A shared blacklist (Redis); None means the database one, in the unit of work.
    blacklist: Blacklist | None = None

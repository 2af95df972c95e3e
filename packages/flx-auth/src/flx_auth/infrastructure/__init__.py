"""Adapters of the auth ports: SQL repositories and blacklist, Redis blacklist."""

from flx_auth.infrastructure.redis_blacklist import RedisBlacklist as RedisBlacklist
from flx_auth.infrastructure.repositories import (
    SqlBlacklist as SqlBlacklist,
    SqlSessionRepository as SqlSessionRepository,
    SqlUserRepository as SqlUserRepository,
)
from flx_auth.infrastructure.tables import metadata as metadata

"""Roles and the permissions each grants."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from flx_core.domain import Permission


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    VIEWER = "viewer"


#: Every read permission (the ones named ``<resource>:read``).
READ_PERMISSIONS = frozenset(p for p in Permission if p.value.endswith(":read"))

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    # Reads everything, and runs the pipelines; no user management, no system administration.
    Role.OPERATOR: READ_PERMISSIONS
    | {
        Permission.PIPELINE_WRITE,
        Permission.PIPELINE_RUN,
        Permission.PLUGIN_MANAGE,
        Permission.STATE_WRITE,
        Permission.SCHEDULE_WRITE,
    },
    Role.VIEWER: frozenset(
        {
            Permission.PIPELINE_READ,
            Permission.PLUGIN_READ,
            Permission.EXECUTION_READ,
            Permission.STATE_READ,
        }
    ),
}


def permissions_for(roles: Iterable[Role]) -> frozenset[Permission]:
    """The union of the permissions of ``roles``."""
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[Role(role)]
    return granted

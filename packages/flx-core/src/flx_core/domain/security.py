"""Who is acting: permissions and the principal every command and query carries."""

from __future__ import annotations

from enum import StrEnum

from pydantic import Field

from flx_core.domain.pydantic_base import DomainValueObject


class Permission(StrEnum):
    PIPELINE_READ = "pipeline:read"
    PIPELINE_WRITE = "pipeline:write"
    PIPELINE_RUN = "pipeline:run"
    PLUGIN_READ = "plugin:read"
    PLUGIN_MANAGE = "plugin:manage"
    EXECUTION_READ = "execution:read"
    STATE_READ = "state:read"
    STATE_WRITE = "state:write"
    SCHEDULE_WRITE = "schedule:write"
    USER_READ = "user:read"
    USER_MANAGE = "user:manage"
    AUDIT_READ = "audit:read"
    SYSTEM_ADMIN = "system:admin"


class Principal(DomainValueObject):
    """The caller of a use case. Adapters build it (from a token, or the local system user)."""

    subject: str = Field(min_length=1)
    roles: frozenset[str] = frozenset()
    permissions: frozenset[Permission] = frozenset()
    is_system: bool = False

    def can(self, permission: Permission) -> bool:
        return self.is_system or permission in self.permissions

    @classmethod
    def system(cls, name: str = "system") -> Principal:
        """The built-in principal of the local CLI on the embedded default: may do everything."""
        return cls(
            subject=name,
            roles=frozenset({"system"}),
            permissions=frozenset(Permission),
            is_system=True,
        )

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(subject="anonymous")

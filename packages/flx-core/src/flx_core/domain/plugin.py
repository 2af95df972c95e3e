"""The Plugin aggregate: a Singer connector (or utility) FLX knows how to install and run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from flx_core.domain.base import new_id
from flx_core.domain.errors import ValidationFailed
from flx_core.domain.events import PluginAdded, PluginRemoved, PluginUpdated
from flx_core.domain.pydantic_base import DomainAggregateRoot, utc_now
from flx_core.domain.secrets import looks_secret, mask_settings
from flx_core.domain.value_objects import PluginSetting, PluginType, validate_name

PLUGIN_UPDATABLE = frozenset(
    {"variant", "pip_url", "namespace", "executable", "settings", "config", "capabilities"}
)


class Plugin(DomainAggregateRoot):
    id: str = Field(default_factory=new_id)
    plugin_type: PluginType
    name: str
    variant: str | None = None
    pip_url: str | None = None
    namespace: str = ""
    executable: str | None = None
    settings: list[PluginSetting] = Field(default_factory=list)
    #: Default values of settings (plugin level, lowest precedence).
    config: dict[str, Any] = Field(default_factory=dict)
    capabilities: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v, "plugin name")

    def model_post_init(self, context: Any, /) -> None:
        if not self.namespace:
            self.namespace = self.name.replace("-", "_")
        if self.executable is None:
            self.executable = self.name

    @classmethod
    def create(cls, **fields: Any) -> Plugin:
        plugin = cls(**fields)
        plugin.record(
            PluginAdded(
                aggregate_id=plugin.id, name=plugin.name, plugin_type=plugin.plugin_type.value
            )
        )
        return plugin

    def update(self, now: datetime | None = None, **changes: Any) -> list[str]:
        unknown = set(changes) - PLUGIN_UPDATABLE
        if unknown:
            raise ValidationFailed(f"cannot update field(s): {', '.join(sorted(unknown))}")
        validated = type(self).model_validate(self.model_dump() | changes)
        changed = [k for k in changes if getattr(self, k) != getattr(validated, k)]
        for key in changed:
            object.__setattr__(self, key, getattr(validated, key))
        if changed:
            self.updated_at = now or utc_now()
            self.record(PluginUpdated(aggregate_id=self.id, name=self.name, changes=changed))
        return changed

    def remove(self) -> None:
        self.record(
            PluginRemoved(aggregate_id=self.id, name=self.name, plugin_type=self.plugin_type.value)
        )

    @property
    def secret_names(self) -> frozenset[str]:
        return frozenset(s.name for s in self.settings if s.is_secret)

    def is_secret(self, setting: str) -> bool:
        """Declared secret, or named like one (``password``, ``api_token``...)."""
        return setting in self.secret_names or looks_secret(setting)

    def masked(self, values: dict[str, Any]) -> dict[str, Any]:
        """``values`` with secrets masked (declared or secret-looking, URL passwords)."""
        return mask_settings(values, self.secret_names)

    def env_prefix(self) -> str:
        """Prefix of the environment variables that set this plugin's settings (``TAP_X_``)."""
        return self.name.upper().replace("-", "_") + "_"

"""The Plugin aggregate: a Singer connector (or utility) FLX knows how to install and run."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import Field, field_validator

from flx_core.domain.base import new_id
from flx_core.domain.errors import ValidationFailed
from flx_core.domain.events import PluginAdded, PluginRemoved, PluginUpdated
from flx_core.domain.pydantic_base import DomainAggregateRoot, utc_now
from flx_core.domain.secrets import looks_secret, mask_settings
from flx_core.domain.value_objects import (
    PluginSetting,
    PluginType,
    SettingKind,
    SettingValueError,
    setting_value,
    validate_name,
)

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
        """A new plugin; its config values take the kinds its settings declare."""
        plugin = cls(**fields)
        object.__setattr__(plugin, "config", plugin.typed_config(plugin.config))
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
        fields = list(changes)
        if "config" in changes or "settings" in changes:
            # Values take the declared kinds, also those declared by this very change.
            object.__setattr__(validated, "config", validated.typed_config(validated.config))
            fields += [] if "config" in fields else ["config"]
        changed = [k for k in fields if getattr(self, k) != getattr(validated, k)]
        for key in changed:
            object.__setattr__(self, key, getattr(validated, key))
        if changed:
            self.updated_at = now or utc_now()
            self.record(PluginUpdated(aggregate_id=self.id, name=self.name, changes=changed))
        return changed

    def set_setting(
        self, setting: str, value: Any, *, secret: bool = False, now: datetime | None = None
    ) -> list[str]:
        """Give ``setting`` a plugin-level value, converted to its declared kind; ``secret``
        declares it secret (masked everywhere, always a string). The changed fields."""
        if not setting:
            raise ValidationFailed("a setting needs a name", plugin=self.name)
        changes: dict[str, Any] = {"config": {**self.config, setting: value}}
        if secret and setting not in self.secret_names:
            declared = self.setting(setting)
            changes["settings"] = (
                [
                    s.model_copy(update={"kind": SettingKind.SECRET}) if s.name == setting else s
                    for s in self.settings
                ]
                if declared is not None
                else [*self.settings, PluginSetting(name=setting, kind=SettingKind.SECRET)]
            )
        return self.update(now=now, **changes)

    def unset_setting(self, setting: str, *, now: datetime | None = None) -> list[str]:
        """Drop the plugin-level value of ``setting`` (its default applies again)."""
        if setting not in self.config:
            return []
        return self.update(now=now, config={k: v for k, v in self.config.items() if k != setting})

    def setting(self, name: str) -> PluginSetting | None:
        """The declaration of setting ``name``, if the plugin declares it."""
        return next((s for s in self.settings if s.name == name), None)

    def setting_kind(self, name: str) -> SettingKind | None:
        """The kind a value of ``name`` takes: its declared kind, secret for a name that
        looks secret (``password``, ``api_token``...), None for an undeclared setting."""
        declared = self.setting(name)
        if declared is not None:
            return declared.kind
        return SettingKind.SECRET if self.is_secret(name) else None

    def typed_value(self, name: str, value: Any, where: str = "") -> Any:
        """``value`` of setting ``name`` converted to its kind (see ``setting_value``).

        ``where`` names the place the value comes from in the error (``in pipeline 'p'``).
        """
        try:
            return setting_value(value, self.setting_kind(name))
        except SettingValueError as exc:
            place = f" {where}" if where else ""
            raise ValidationFailed(
                f"setting {name!r} of plugin {self.name!r}{place} {exc}",
                plugin=self.name,
                setting=name,
            ) from None

    def typed_config(self, values: Mapping[str, Any], where: str = "") -> dict[str, Any]:
        """``values`` (setting -> value) each converted to its setting's kind."""
        return {name: self.typed_value(name, value, where) for name, value in values.items()}

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

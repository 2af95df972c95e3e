"""The Pipeline aggregate: what to extract, how to map it, where to load it, and when."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from pathlib import PurePath
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from flx_core.domain.base import new_id
from flx_core.domain.errors import ValidationFailed
from flx_core.domain.events import PipelineCreated, PipelineDeleted, PipelineUpdated
from flx_core.domain.pydantic_base import DomainAggregateRoot, utc_now
from flx_core.domain.secrets import mask_settings
from flx_core.domain.value_objects import CronExpression, validate_name

#: Fields a pipeline update may change.
UPDATABLE_FIELDS = frozenset(
    {
        "description",
        "extractor",
        "mappers",
        "loader",
        "config",
        "select",
        "metadata",
        "schedule",
        "enabled",
        "tags",
        "state_id",
        "retries",
        "retry_delay",
        "on_conflict",
        "queue",
        "timezone",
        "catchup",
        "schema_overrides",
        "catalog_path",
        "state_path",
        "load_schema",
        "select_filter",
    }
)

#: Longest wait between two attempts of a retried run (the backoff's cap).
MAX_RETRY_DELAY = 3600.0


class Pipeline(DomainAggregateRoot):
    id: str = Field(default_factory=new_id)
    name: str
    description: str = ""
    extractor: str
    mappers: list[str] = Field(default_factory=list)
    loader: str
    #: Per-plugin setting overrides: ``{"tap-x": {"start_date": "2024-01-01"}}``.
    config: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Meltano-style select rules: ``stream.property``, ``stream.*``, ``!stream.secret``.
    select: list[str] = Field(default_factory=list)
    #: Catalog metadata per stream pattern, as Meltano's ``metadata`` extra:
    #: ``{"public-orders": {"replication-method": "INCREMENTAL", "replication-key": "id"}}``.
    metadata: dict[str, dict[str, Any]] = Field(default_factory=dict)
    schedule: CronExpression | None = None
    enabled: bool = True
    tags: list[str] = Field(default_factory=list)
    state_id: str = ""
    #: Failed runs are tried again up to this many times (each attempt an execution).
    retries: int = Field(default=0, ge=0, le=20)
    #: Seconds before the first retry; doubled for each further attempt, with jitter.
    retry_delay: float = Field(default=60.0, ge=0, le=MAX_RETRY_DELAY)
    #: A run requested while one is active: refused (``reject``) or queued behind it.
    on_conflict: Literal["reject", "queue"] = "reject"
    #: The worker queue its runs go to (Celery); the default queue when unset.
    queue: str | None = Field(default=None, min_length=1, max_length=64)
    #: The timezone its cron schedule is read in.
    timezone: str = "UTC"
    #: After scheduler downtime: fire once for what was missed (``skip``) or every time.
    catchup: Literal["skip", "all"] = "skip"
    #: JSON schemas laid over the discovered catalog's properties, as Meltano's ``schema``
    #: extra: ``{"users": {"score": {"type": ["string", "null"]}}}`` (stream and property
    #: globs; a property the stream lacks is added).
    schema_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: A catalog file the extractor gets instead of a discovered one (Meltano's ``catalog``
    #: extra): absolute, read on the machine that runs the pipeline.
    catalog_path: str | None = None
    #: A state file the extractor starts from instead of the stored state (Meltano's
    #: ``state`` extra): absolute, read on the machine that runs the pipeline.
    state_path: str | None = None
    #: The schema the loader writes to (Meltano's ``load_schema`` extra): loader settings
    #: that reference ``$MELTANO_EXTRACT__LOAD_SCHEMA`` get it; the extractor's namespace
    #: when unset.
    load_schema: str | None = Field(default=None, max_length=255)
    #: Stream filters applied after the selection (Meltano's ``select_filter`` extra):
    #: ``users``, ``order*``, ``!events``; they only ever deselect streams.
    select_filter: list[str] = Field(default_factory=list)
    created_at: datetime = Field(default_factory=utc_now)
    updated_at: datetime = Field(default_factory=utc_now)

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        return validate_name(v, "pipeline name")

    @field_validator("extractor", "loader")
    @classmethod
    def _plugin_ref(cls, v: str) -> str:
        return validate_name(v, "plugin name")

    @field_validator("mappers")
    @classmethod
    def _mappers(cls, v: list[str]) -> list[str]:
        return [validate_name(m, "mapper name") for m in v]

    @field_validator("select")
    @classmethod
    def _select(cls, v: list[str]) -> list[str]:
        for rule in v:
            if not rule.strip().lstrip("!"):
                raise ValueError("empty select rule")
        return [r.strip() for r in v]

    @field_validator("schema_overrides")
    @classmethod
    def _schema_overrides(cls, v: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for stream, properties in v.items():
            if not stream.strip():
                raise ValueError("a schema override has an empty stream pattern")
            if not isinstance(properties, dict):
                raise ValueError(
                    f"schema override {stream!r} must map property names to JSON schemas"
                )
            for name, schema in properties.items():
                if not name.strip():
                    raise ValueError(f"schema override {stream!r} has an empty property name")
                if not isinstance(schema, dict):
                    raise ValueError(
                        f"schema override '{stream}.{name}' must be a JSON schema (an object)"
                    )
        return v

    @field_validator("catalog_path", "state_path")
    @classmethod
    def _file_path(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        if not PurePath(v.strip()).is_absolute():
            raise ValueError(
                f"{v!r} is not an absolute path (the run reads it on the machine that runs it)"
            )
        return v.strip()

    @field_validator("load_schema")
    @classmethod
    def _load_schema(cls, v: str | None) -> str | None:
        if v is None or not v.strip():
            return None
        return v.strip()

    @field_validator("select_filter")
    @classmethod
    def _select_filter(cls, v: list[str]) -> list[str]:
        for rule in v:
            body = rule.strip().removeprefix("!")
            if not body.strip() or body.startswith("!"):
                raise ValueError(f"select filter {rule!r} names no stream")
        return [r.strip() for r in v]

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {v!r} (an IANA name such as Europe/Paris)"
            ) from None
        return v

    @field_validator("queue")
    @classmethod
    def _queue(cls, v: str | None) -> str | None:
        if v is not None and not v.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise ValueError("a queue name holds only letters, digits, '-', '_' and '.'")
        return v

    def retry_backoff(self, attempt: int, jitter: float) -> float:
        """Seconds to wait before ``attempt`` (2 for the first retry): ``retry_delay``
        doubled per earlier retry, capped, times ``jitter`` (0.5 to 1.0, "equal jitter")."""
        base: float = min(MAX_RETRY_DELAY, self.retry_delay * 2.0 ** max(0, attempt - 2))
        return base * min(1.0, max(0.5, jitter))

    @field_validator("tags")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        return sorted({t.strip() for t in v if t.strip()})

    def model_post_init(self, context: Any, /) -> None:
        if not self.state_id:
            self.state_id = self.name

    @classmethod
    def create(cls, **fields: Any) -> Pipeline:
        pipeline = cls(**fields)
        pipeline.record(
            PipelineCreated(
                aggregate_id=pipeline.id,
                name=pipeline.name,
                extractor=pipeline.extractor,
                loader=pipeline.loader,
            )
        )
        return pipeline

    def update(self, now: datetime | None = None, **changes: Any) -> dict[str, Any]:
        """Apply changes; returns the fields that really changed (and records the event)."""
        unknown = set(changes) - UPDATABLE_FIELDS
        if unknown:
            raise ValidationFailed(f"cannot update field(s): {', '.join(sorted(unknown))}")
        candidate = self.model_dump() | changes
        # Validate the whole aggregate before touching self, so a bad value changes nothing.
        validated = type(self).model_validate(candidate)
        changed: dict[str, Any] = {}
        for key in changes:
            new = getattr(validated, key)
            if getattr(self, key) != new:
                changed[key] = new
        for key, value in changed.items():
            object.__setattr__(self, key, value)
        if changed:
            self.updated_at = now or utc_now()
            self.record(
                PipelineUpdated(
                    aggregate_id=self.id,
                    name=self.name,
                    changes={
                        k: (str(v) if isinstance(v, CronExpression) else v)
                        for k, v in self._audited(changed).items()
                    },
                )
            )
        return changed

    @staticmethod
    def _audited(changed: dict[str, Any]) -> dict[str, Any]:
        """Changes as the audit trail records them: setting secrets masked."""
        if "config" not in changed:
            return changed
        config = {name: mask_settings(values) for name, values in changed["config"].items()}
        return {**changed, "config": config}

    def masked_config(
        self, declared: Mapping[str, frozenset[str]] | None = None
    ) -> dict[str, dict[str, Any]]:
        """The per-plugin overrides with secrets masked: those each plugin declares secret
        (``declared``: plugin name -> setting names), secret-looking names, passwords in
        connection strings."""
        known = declared or {}
        return {
            name: mask_settings(values, known.get(name, frozenset()))
            for name, values in self.config.items()
        }

    def delete(self) -> None:
        self.record(PipelineDeleted(aggregate_id=self.id, name=self.name))

    @property
    def plugin_names(self) -> list[str]:
        return [self.extractor, *self.mappers, self.loader]

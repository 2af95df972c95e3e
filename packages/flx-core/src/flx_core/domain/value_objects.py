"""Value objects: immutable, validated at construction."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from croniter import croniter
from pydantic import Field, field_validator

from flx_core.domain.pydantic_base import DomainValueObject

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


def validate_name(value: str, what: str = "name") -> str:
    if not _NAME_RE.fullmatch(value):
        raise ValueError(
            f"invalid {what} {value!r}: use 1-63 lowercase letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return value


class PipelineName(DomainValueObject):
    value: str

    @field_validator("value")
    @classmethod
    def _check(cls, v: str) -> str:
        return validate_name(v, "pipeline name")

    def __str__(self) -> str:
        return self.value


class Duration(DomainValueObject):
    """A non-negative length of time in seconds."""

    seconds: float = Field(ge=0)

    @classmethod
    def between(cls, start: datetime, end: datetime) -> Duration:
        return cls(seconds=max((end - start).total_seconds(), 0.0))

    def as_timedelta(self) -> timedelta:
        return timedelta(seconds=self.seconds)

    def __str__(self) -> str:
        s = self.seconds
        if s < 60:
            return f"{s:.1f}s"
        minutes, sec = divmod(int(s), 60)
        hours, minutes = divmod(minutes, 60)
        return f"{hours}h{minutes:02d}m{sec:02d}s" if hours else f"{minutes}m{sec:02d}s"


class ExecutionStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in _TERMINAL

    def can_become(self, new: ExecutionStatus) -> bool:
        return new in _TRANSITIONS[self]


_TERMINAL = frozenset(
    {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
)
_TRANSITIONS: dict[ExecutionStatus, frozenset[ExecutionStatus]] = {
    ExecutionStatus.PENDING: frozenset(
        {
            ExecutionStatus.QUEUED,
            ExecutionStatus.RUNNING,
            ExecutionStatus.CANCELLED,
            ExecutionStatus.FAILED,
        }
    ),
    ExecutionStatus.QUEUED: frozenset(
        {ExecutionStatus.RUNNING, ExecutionStatus.CANCELLED, ExecutionStatus.FAILED}
    ),
    ExecutionStatus.RUNNING: frozenset(
        {ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.CANCELLED}
    ),
    ExecutionStatus.SUCCEEDED: frozenset(),
    ExecutionStatus.FAILED: frozenset(),
    ExecutionStatus.CANCELLED: frozenset(),
}


class PluginType(StrEnum):
    EXTRACTOR = "extractor"
    LOADER = "loader"
    MAPPER = "mapper"
    UTILITY = "utility"


class SettingKind(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    SECRET = "secret"  # noqa: S105 - a setting kind, not a password
    OBJECT = "object"
    ARRAY = "array"


class PluginSetting(DomainValueObject):
    """A setting a connector accepts, as Meltano's plugin definitions describe them."""

    name: str = Field(min_length=1)
    kind: SettingKind = SettingKind.STRING
    default: Any = None
    required: bool = False
    description: str = ""

    @property
    def is_secret(self) -> bool:
        return self.kind is SettingKind.SECRET


class Capability(StrEnum):
    CATALOG = "catalog"
    PROPERTIES = "properties"
    DISCOVER = "discover"
    STATE = "state"
    ABOUT = "about"
    STREAM_MAPS = "stream-maps"
    SCHEMA_FLATTENING = "schema-flattening"
    ACTIVATE_VERSION = "activate-version"


class CronExpression(DomainValueObject):
    """A five-field cron expression (or a croniter alias such as ``@daily``)."""

    value: str

    @field_validator("value")
    @classmethod
    def _check(cls, v: str) -> str:
        v = " ".join(v.split())
        if not croniter.is_valid(v):
            raise ValueError(f"invalid cron expression {v!r}")
        return v

    def next_after(self, moment: datetime) -> datetime:
        nxt: datetime = croniter(self.value, moment).get_next(datetime)
        return nxt

    def __str__(self) -> str:
        return self.value

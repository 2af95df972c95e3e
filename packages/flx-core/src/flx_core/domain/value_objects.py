"""Value objects: immutable, validated at construction."""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from croniter import croniter
from pydantic import Field, field_validator, model_validator

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


_KIND_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "secret": "a string",
    "object": "a JSON object",
    "array": "a JSON array",
}
_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
#: What a converter returns for a value that does not fit its kind.
_INVALID: Any = object()


class SettingValueError(ValueError):
    """A value that does not fit the kind of its setting; the message reads
    ``must be an integer (got 'abc')``, for the caller to prefix with what it names."""


def _got(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _json_container(text: str) -> Any:
    """The object or array ``text`` holds, or None when it holds neither."""
    stripped = text.strip()
    if not stripped.startswith(("{", "[")):
        return None
    try:
        parsed = json.loads(stripped)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict | list) else None


def setting_value(value: Any, kind: SettingKind | None) -> Any:
    """``value`` converted to the setting ``kind`` (None: a setting nobody declared).

    Text, as typed on a command line or read from the environment, is converted: ``5432``
    becomes 5432 for an integer, ``true`` becomes True for a boolean, a JSON text becomes
    the object or array it holds. Text of an undeclared setting stays text unless it is a
    JSON object or array; a string or secret setting always holds text. Typed values (from
    JSON or YAML) are checked against the kind. None stays None (no value). Raises
    SettingValueError.
    """
    if value is None:
        return None
    if kind is None:
        if isinstance(value, str):
            container = _json_container(value)
            return value if container is None else container
        return value
    try:
        converted = _CONVERTERS[kind](value)
    except (ValueError, TypeError, OverflowError):
        converted = _INVALID
    if converted is _INVALID:
        raise SettingValueError(f"must be {_KIND_WORDS[kind.value]} (got {_got(value)})")
    return converted


def _to_string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return _INVALID


def _to_integer(value: Any) -> Any:
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else _INVALID
    if isinstance(value, str):
        return int(value.strip())
    return _INVALID


def _to_number(value: Any) -> Any:
    if isinstance(value, bool):
        return _INVALID
    if isinstance(value, int | float):
        number: Any = value
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = int(text)
        except ValueError:
            number = float(text)
    else:
        return _INVALID
    return number if math.isfinite(number) else _INVALID


def _to_boolean(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in _TRUE:
            return True
        if lowered in _FALSE:
            return False
    return _INVALID


def _to_container(wanted: type) -> Any:
    def convert(value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value)
        if wanted is list and isinstance(value, tuple):
            value = list(value)
        return value if isinstance(value, wanted) else _INVALID

    return convert


_CONVERTERS: dict[SettingKind, Any] = {
    SettingKind.STRING: _to_string,
    SettingKind.SECRET: _to_string,
    SettingKind.INTEGER: _to_integer,
    SettingKind.NUMBER: _to_number,
    SettingKind.BOOLEAN: _to_boolean,
    SettingKind.OBJECT: _to_container(dict),
    SettingKind.ARRAY: _to_container(list),
}


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


#: The cron fields in order, with the values each takes.
_CRON_FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or jan-dec"),
    ("day-of-week", "0-6 or sun-sat"),
)
_CRON_ALIASES = frozenset(
    {"@hourly", "@daily", "@midnight", "@weekly", "@monthly", "@yearly", "@annually"}
)
_CRON_FORM = (
    "five fields, minute hour day-of-month month day-of-week (e.g. '0 2 * * *'), "
    "or @hourly, @daily, @weekly, @monthly, @yearly"
)


def _cron_problem(value: str) -> str | None:
    """Why ``value`` is not a cron expression FLX fires, in words; None when it is one."""
    if not value:
        return f"empty cron expression: use {_CRON_FORM}"
    if value.startswith("@"):
        if value.lower() in _CRON_ALIASES:
            return None
        return f"unknown cron alias {value!r}: use @hourly, @daily, @weekly, @monthly or @yearly"
    parts = value.split()
    if len(parts) != 5:
        return f"invalid cron expression {value!r}: it has {len(parts)} field(s); use {_CRON_FORM}"
    if croniter.is_valid(value):
        return None
    for i, (name, allowed) in enumerate(_CRON_FIELDS):
        alone = " ".join(parts[i] if j == i else "*" for j in range(5))
        if not croniter.is_valid(alone):
            return (
                f"invalid cron expression {value!r}: the {name} field {parts[i]!r} is not "
                f"valid (values {allowed}; lists a,b, ranges a-b and steps */n are allowed)"
            )
    return f"invalid cron expression {value!r}: use {_CRON_FORM}"


class CronExpression(DomainValueObject):
    """A five-field cron expression, or an alias (``@hourly``, ``@daily``, ``@weekly``,
    ``@monthly``, ``@yearly``). Refused with the reason in words: which field is wrong and
    what it takes. (croniter's six- and seven-field forms, with seconds or years, are not
    taken: schedules fire at most once a minute.)"""

    value: str

    @model_validator(mode="before")
    @classmethod
    def _check(cls, data: Any) -> Any:
        # Checked before the field, so that an error names the schedule, not its "value".
        if isinstance(data, dict) and isinstance(data.get("value"), str):
            value = " ".join(data["value"].split())
            problem = _cron_problem(value)
            if problem:
                raise ValueError(problem)
            return {**data, "value": value.lower() if value.startswith("@") else value}
        return data

    def next_after(self, moment: datetime) -> datetime:
        nxt: datetime = croniter(self.value, moment).get_next(datetime)
        return nxt

    def __str__(self) -> str:
        return self.value

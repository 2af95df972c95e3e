"""Foundation of every domain object: Pydantic v2 bases and the ServiceResult type."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Generic, TypeVar
from uuid import UUID, uuid4

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr

T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(UTC)


class DomainBaseModel(BaseModel):
    """Base of all domain models: strict about unknown fields, validated on assignment."""

    model_config = ConfigDict(
        extra="forbid",
        validate_assignment=True,
        str_strip_whitespace=True,
        use_enum_values=False,
    )


class DomainValueObject(DomainBaseModel):
    """Immutable value, equal by its attributes."""

    model_config = ConfigDict(frozen=True)


class DomainEvent(DomainBaseModel):
    """Something that happened to an aggregate; immutable and timestamped."""

    model_config = ConfigDict(frozen=True)

    event_id: UUID = Field(default_factory=uuid4)
    occurred_at: datetime = Field(default_factory=utc_now)
    aggregate_id: str

    @classmethod
    def event_type(cls) -> str:
        return cls.__name__


class DomainEntity(DomainBaseModel):
    """An object with identity: two entities with the same id are the same entity."""

    id: Any

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and bool(other.id == self.id)

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.id))


class DomainAggregateRoot(DomainEntity):
    """Consistency boundary: records domain events and carries a version for optimistic locking.

    ``version`` is the version the aggregate was loaded at (0 for a new one); repositories
    bump it when they save, and refuse the save if the stored version moved meanwhile.
    """

    version: int = 0
    _events: list[DomainEvent] = PrivateAttr(default_factory=list)

    def record(self, event: DomainEvent) -> None:
        self._events.append(event)

    def pull_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events


class ServiceResult(BaseModel, Generic[T]):
    """Outcome of a use case: a value, or an error code with a message and details."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    ok: bool
    value: T | None = None
    error_code: str | None = None
    message: str | None = None
    details: dict[str, Any] = Field(default_factory=dict)

    SUCCESS: ClassVar[str] = "ok"

    @classmethod
    def success(cls, value: T | None = None) -> ServiceResult[T]:
        return cls(ok=True, value=value)

    @classmethod
    def failure(
        cls,
        message: str,
        error_code: str = "error",
        details: dict[str, Any] | None = None,
    ) -> ServiceResult[T]:
        return cls(ok=False, error_code=error_code, message=message, details=details or {})

    @property
    def is_success(self) -> bool:
        return self.ok

    @property
    def is_failure(self) -> bool:
        return not self.ok

    def unwrap(self) -> T:
        """The value; raises :class:`ResultError` when the result is a failure."""
        if not self.ok:
            raise ResultError(self.error_code or "error", self.message or "", self.details)
        return self.value  # type: ignore[return-value]

    def unwrap_or(self, default: T) -> T:
        return self.value if self.ok and self.value is not None else default

    def unwrap_or_raise(self, exc_type: type[Exception] | None = None) -> T:
        """The value, or raise ``exc_type(message)`` (``ResultError`` by default)."""
        if self.ok:
            return self.value  # type: ignore[return-value]
        if exc_type is None:
            raise ResultError(self.error_code or "error", self.message or "", self.details)
        raise exc_type(self.message)


class ResultError(Exception):
    """Raised when a failed ServiceResult is unwrapped."""

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

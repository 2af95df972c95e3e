"""Turning exceptions raised inside handlers into ServiceResult failures with one-line messages."""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from flx_core.domain.errors import DomainError
from flx_core.domain.pydantic_base import ServiceResult


def describe_validation_error(exc: ValidationError) -> str:
    """One line per problem, joined: ``field: message``."""
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "__root__")
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        parts.append(f"{loc}: {msg}" if loc else msg)
    return "; ".join(parts)


def failure_from(exc: Exception) -> ServiceResult[Any]:
    if isinstance(exc, DomainError):
        return ServiceResult.failure(exc.message, exc.code, dict(exc.details))
    if isinstance(exc, ValidationError):
        return ServiceResult.failure(describe_validation_error(exc), "invalid")
    raise exc

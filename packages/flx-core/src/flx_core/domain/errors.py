"""Errors raised by domain rules. Each carries a stable code the adapters map to a response."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule was broken."""

    code = "domain_error"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details


class ValidationFailed(DomainError):
    code = "invalid"


class NotFound(DomainError):
    code = "not_found"


class AlreadyExists(DomainError):
    code = "already_exists"


class ConcurrencyConflict(DomainError):
    """The aggregate changed since it was read (optimistic locking)."""

    code = "conflict"


class InvalidTransition(DomainError):
    code = "invalid_transition"


class PermissionDenied(DomainError):
    code = "permission_denied"


class Unauthenticated(DomainError):
    code = "unauthenticated"


class SecretUnreadable(DomainError):
    """A stored secret setting cannot be decrypted: the key is missing, wrong or the value
    is damaged. The message names the plugin and the setting."""

    code = "secret_unreadable"

"""Recognising and masking secrets in settings, wherever they are shown or recorded."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

MASK = "********"
#: Setting names that hold secrets even when nothing declares them so.
SECRET_WORDS = (
    "password",
    "secret",
    "token",
    "private_key",
    "api_key",
    "credentials",
    "passphrase",
)


def looks_secret(name: str) -> bool:
    lowered = name.lower()
    return any(word in lowered for word in SECRET_WORDS)


def mask_url_password(value: str) -> str:
    """``scheme://user:********@host/...`` for a URL that carries a password."""
    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return value
    if not password:
        return value
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname or ''}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def mask_settings(
    values: dict[str, Any], secret_names: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``values`` with secrets masked: declared or secret-looking names, URL passwords."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if (key in secret_names or looks_secret(key)) and value not in (None, ""):
            out[key] = MASK
        elif isinstance(value, str) and "://" in value and "@" in value:
            out[key] = mask_url_password(value)
        elif isinstance(value, dict):
            out[key] = mask_settings(value, secret_names)
        else:
            out[key] = value
    return out

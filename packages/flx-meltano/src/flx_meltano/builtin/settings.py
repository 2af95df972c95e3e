"""Reading the JSON files a connector is given (config, state, catalog) and typed settings."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from flx_meltano.builtin.errors import ConnectorError

_MISSING = object()


def read_json_file(path: str, what: str) -> Any:
    try:
        data = Path(path).read_bytes()
    except OSError as error:
        raise ConnectorError(f"cannot read the {what} file {path}: {error.strerror}") from None
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ConnectorError(f"the {what} file {path} is not valid JSON: {error}") from None


def read_json_object(path: str, what: str) -> dict[str, Any]:
    value = read_json_file(path, what)
    if not isinstance(value, dict):
        raise ConnectorError(f"the {what} file {path} must hold a JSON object")
    return value


class Settings:
    """Typed access to a config object; every problem names the key."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def _get(self, key: str, default: Any) -> Any:
        value = self.values.get(key, _MISSING)
        if value is _MISSING or value is None:
            if default is _MISSING:
                raise ConnectorError(f"the config key {key!r} is required")
            return default
        return value

    def string(self, key: str, default: Any = _MISSING) -> str:
        value = self._get(key, default)
        if not isinstance(value, str) or not value:
            raise ConnectorError(f"the config key {key!r} must be a non-empty string")
        return value

    def integer(self, key: str, default: Any = _MISSING, *, minimum: int = 0) -> int:
        value = self._get(key, default)
        if isinstance(value, str) and value.strip().lstrip("-").isdigit():
            value = int(value)  # settings from environment variables arrive as strings
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConnectorError(f"the config key {key!r} must be an integer, got {value!r}")
        if value < minimum:
            raise ConnectorError(f"the config key {key!r} must be at least {minimum}")
        return value

    def boolean(self, key: str, default: Any = _MISSING) -> bool:
        value = self._get(key, default)
        if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
            return value.lower() in ("true", "1")
        if not isinstance(value, bool):
            raise ConnectorError(f"the config key {key!r} must be true or false, got {value!r}")
        return value

    def string_list(self, key: str, default: Any = _MISSING) -> list[str]:
        value = self._get(key, default)
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ConnectorError(f"the config key {key!r} must be a list of strings")
        return value

    def moment(self, key: str, default: Any = _MISSING) -> datetime:
        """An ISO 8601 date or date-time; a naive one is taken as UTC."""
        value = self._get(key, default)
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConnectorError(
                f"the config key {key!r} must be an ISO 8601 date, got {value!r}"
            ) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)

"""FLX settings: environment (``FLX_`` prefix, the original names as aliases) and ``.env``."""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

MASK = "********"


_RATE = re.compile(r"[1-9]\d*\s*/\s*(second|minute|hour|day)")


def _env(*names: str) -> AliasChoices:
    return AliasChoices(*names)


class SettingsError(Exception):
    """A setting has a bad value; the message is one line naming the variable."""


class FlxSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="FLX_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        validate_default=True,
    )

    home: Path = Field(default=Path(".flx"), description="Embedded database, venvs, logs, keys")
    database_url: str | None = Field(
        default=None,
        validation_alias=_env("FLX_DATABASE_URL", "DATABASE_URL"),
        description="SQLAlchemy URL; SQLite at $FLX_HOME/flx.db when unset",
    )
    redis_url: str | None = Field(default=None, validation_alias=_env("FLX_REDIS_URL", "REDIS_URL"))
    debug_mode: bool = Field(default=False, validation_alias=_env("FLX_DEBUG", "DEBUG_MODE"))
    log_level: Literal["debug", "info", "warning", "error"] = "warning"
    log_format: Literal["auto", "console", "json"] = "auto"

    # Auth
    jwt_algorithm: Literal["RS256"] = Field(
        default="RS256", validation_alias=_env("FLX_JWT_ALGORITHM", "JWT_ALGORITHM")
    )
    jwt_private_key: SecretStr | None = Field(
        default=None,
        validation_alias=_env("FLX_JWT_PRIVATE_KEY", "JWT_SECRET_KEY"),
        description="PEM text or a path to a PEM file; generated into $FLX_HOME/keys if unset",
    )
    jwt_issuer: str = "flx"
    jwt_audience: str = "flx"
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=7 * 24 * 3600, gt=0)
    bcrypt_rounds: int = Field(default=12, ge=4, le=20)
    password_min_length: int = Field(default=12, ge=8)
    login_max_failures: int = Field(default=5, ge=1)
    login_lock_seconds: int = Field(default=15 * 60, ge=1)
    admin_email: str | None = None
    admin_password: SecretStr | None = None
    secret_key: SecretStr | None = Field(
        default=None,
        description=(
            "Fernet keys that encrypt secret settings at rest, comma-separated, newest first; "
            "generated into $FLX_HOME/keys if unset"
        ),
    )

    # Plugins and engine
    plugin_watch_directory: Path | None = Field(
        default=None, validation_alias=_env("FLX_PLUGIN_WATCH_DIRECTORY", "PLUGIN_WATCH_DIRECTORY")
    )
    run_timeout_seconds: float | None = Field(default=None, gt=0)
    termination_grace_seconds: float = Field(default=10.0, gt=0)
    heartbeat_seconds: float = Field(default=5.0, gt=0)
    state_backend: Literal["database", "filesystem"] = "database"
    state_retention: int = Field(default=100, ge=1, description="State versions kept per id")
    install_parallelism: int = Field(default=4, ge=1, le=32)
    plugins_dir: Path | None = Field(
        default=None, description="Connector venvs; $FLX_HOME/plugins when unset (may be shared)"
    )

    # Runs as a service: executors, limits, liveness, logs, scheduler
    executor: Literal["local", "celery"] = Field(
        default="local",
        description="local: runs in the requesting process; celery: on `flx worker` processes",
    )
    broker_url: str | None = Field(
        default=None,
        validation_alias=_env("FLX_BROKER_URL", "CELERY_BROKER_URL"),
        description="Celery broker (amqp:// or redis://) when FLX_EXECUTOR=celery",
    )
    default_queue: str = Field(default="flx", min_length=1, max_length=64)
    max_concurrent_runs: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        ge=1,
        le=1024,
        description="Runs one process (a local executor) runs at once",
    )
    max_running: int | None = Field(
        default=None, ge=1, description="Running executions across all workers (unset: no limit)"
    )
    heartbeat_timeout: float = Field(
        default=60.0,
        gt=0,
        description="A running execution without a heartbeat this long is failed (worker lost)",
    )
    queue_timeout: float = Field(
        default=24 * 3600.0,
        gt=0,
        description="A queued execution no worker took within this long is failed",
    )
    log_store: Literal["auto", "file", "database"] = Field(
        default="auto",
        description="Where execution logs go: files under $FLX_HOME/logs, or the database "
        "(auto: the database on PostgreSQL, files on SQLite)",
    )
    scheduler_tick: float = Field(default=1.0, gt=0, le=60)
    reaper_interval: float = Field(default=5.0, gt=0)
    # -- health checks (flx doctor, /health/ready) ---------------------------------------
    health_min_free_mb: int = Field(
        default=500, ge=0, description="Free space under FLX_HOME below which the disk check fails"
    )
    health_scheduler_stale_seconds: float = Field(
        default=120.0,
        gt=0,
        description="The scheduler check fails when no scheduler has ticked for this long",
    )
    # -- the REST API (flx serve) --------------------------------------------------------
    api_host: str = "127.0.0.1"
    api_port: int = Field(default=8000, ge=1, le=65535)
    api_rate_limit: str = Field(
        default="100/minute",
        description="Requests per client (token subject, else address); 'N/second|minute|hour'",
    )
    api_login_rate_limit: str = Field(
        default="10/minute", description="Login attempts per address and per email"
    )
    api_cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Origins allowed by CORS (none by default)"
    )
    api_max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # -- the gRPC API (flx serve) --------------------------------------------------------
    grpc_host: str = Field(default="127.0.0.1", validation_alias=_env("FLX_GRPC_HOST", "GRPC_HOST"))
    grpc_port: int = Field(
        default=50051,
        ge=0,
        le=65535,
        validation_alias=_env("FLX_GRPC_PORT", "GRPC_PORT"),
        description="0: any free port (each server process logs the one it took)",
    )
    grpc_max_message_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=64 * 1024,
        description="The largest gRPC message received or sent",
    )
    grpc_tls_cert: Path | None = Field(
        default=None, description="PEM certificate chain: the gRPC port speaks TLS when set"
    )
    grpc_tls_key: Path | None = Field(
        default=None, description="PEM private key of the certificate"
    )
    # -- the web dashboard (flx serve) --------------------------------------------------
    web_secret_key: SecretStr | None = Field(
        default=None,
        description="Signs the dashboard's session cookies (the same in every server process); "
        "generated into $FLX_HOME/keys if unset",
    )
    web_secure: bool = Field(
        default=False,
        description="Behind TLS: cookies only over HTTPS, HSTS, redirect plain HTTP to HTTPS",
    )
    web_allowed_hosts: Annotated[list[str], NoDecode] = Field(
        default_factory=lambda: ["*"],
        description="Host names the dashboard answers (comma-separated; '*' for any)",
    )
    # -- metrics (/metrics of flx serve, --metrics-port) ----------------------------------
    metrics_cache_seconds: float = Field(
        default=10.0,
        ge=0,
        le=3600,
        description="How long /metrics reuses a read of the business metrics from the database",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="When set, /metrics requires it as a bearer token (Prometheus' "
        "authorization credentials)",
    )
    shutdown_grace_seconds: float = Field(
        default=30.0,
        ge=0,
        description="On SIGTERM, how long running executions may finish before they are cancelled",
    )

    @field_validator("database_url", "redis_url", "broker_url", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        return None if isinstance(v, str) and not v.strip() else v

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, v: str | None) -> str | None:
        if v is None:
            return v
        scheme = v.split("://", 1)[0] if "://" in v else ""
        if not scheme.startswith(("sqlite", "postgresql", "postgres")):
            raise ValueError("must be a sqlite:// or postgresql:// URL")
        return v

    @field_validator("secret_key", mode="before")
    @classmethod
    def _check_secret_key(cls, v: Any) -> Any:
        raw = v.get_secret_value() if isinstance(v, SecretStr) else v
        if not isinstance(raw, str):
            return v
        keys = [k.strip() for k in raw.split(",") if k.strip()]
        if not keys:
            return None
        for key in keys:
            try:
                decoded = base64.urlsafe_b64decode(key.encode("ascii"))
            except (binascii.Error, UnicodeEncodeError):
                decoded = b""
            if len(decoded) != 32:
                raise ValueError(
                    "each comma-separated key must be a Fernet key (32 bytes, url-safe base64)"
                )
        return SecretStr(",".join(keys))

    @field_validator("broker_url")
    @classmethod
    def _check_broker(cls, v: str | None) -> str | None:
        schemes = ("amqp://", "amqps://", "pyamqp://", "redis://", "rediss://")
        if v is not None and not v.startswith(schemes):
            raise ValueError("must be an amqp:// (RabbitMQ) or redis:// URL")
        return v

    @model_validator(mode="after")
    def _check_timeouts(self) -> FlxSettings:
        if self.heartbeat_timeout < 2 * self.heartbeat_seconds:
            raise ValueError(
                f"FLX_HEARTBEAT_TIMEOUT ({self.heartbeat_timeout:g}s) must be at least twice "
                f"FLX_HEARTBEAT_SECONDS ({self.heartbeat_seconds:g}s)"
            )
        if self.executor == "celery" and self.broker_url is None:
            raise ValueError("FLX_EXECUTOR=celery needs FLX_BROKER_URL (amqp:// or redis://)")
        if (self.grpc_tls_cert is None) != (self.grpc_tls_key is None):
            raise ValueError(
                "FLX_GRPC_TLS_CERT and FLX_GRPC_TLS_KEY go together: set both or neither"
            )
        return self

    @field_validator("api_rate_limit", "api_login_rate_limit")
    @classmethod
    def _check_rate(cls, v: str) -> str:
        if not _RATE.fullmatch(v.strip()):
            raise ValueError(
                f"{v!r} is not a rate: write N/second, N/minute, N/hour or N/day (e.g. 100/minute)"
            )
        return v.strip()

    @field_validator("api_cors_origins", "web_allowed_hosts", mode="before")
    @classmethod
    def _comma_list(cls, v: Any) -> Any:
        if isinstance(v, str):
            if v.strip().startswith("["):
                return json.loads(v)
            return [part.strip() for part in v.split(",") if part.strip()]
        return v

    @field_validator("redis_url")
    @classmethod
    def _check_redis(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis:// URL")
        return v

    @property
    def home_path(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def plugins_path(self) -> Path:
        return (self.plugins_dir or self.home / "plugins").expanduser().resolve()

    @property
    def logs_in_database(self) -> bool:
        """Whether execution logs go to the database (so any machine can follow a run)."""
        if self.log_store == "auto":
            return not self.is_embedded
        return self.log_store == "database"

    @property
    def is_embedded(self) -> bool:
        return self.database_url is None or self.database_url.startswith("sqlite")

    def masked(self) -> dict[str, Any]:
        """Every effective setting, with secrets and URL passwords masked."""
        out: dict[str, Any] = {}
        for name in type(self).model_fields:
            value = getattr(self, name)
            if isinstance(value, SecretStr):
                value = MASK if value.get_secret_value() else ""
            elif isinstance(value, str) and name.endswith("_url"):
                value = mask_url(value)
            elif isinstance(value, Path):
                value = str(value)
            out[name] = value
        return out


def mask_url(url: str) -> str:
    """The URL with its password (and secret query parameters) replaced by a mask."""
    from flx_core.domain.secrets import mask_url_password

    return mask_url_password(url)


def _variable_for(field_name: str) -> str:
    field = FlxSettings.model_fields.get(field_name)
    alias = field.validation_alias if field else None
    if isinstance(alias, AliasChoices):
        for choice in alias.choices:
            if isinstance(choice, str) and choice in os.environ:
                return choice
        first = alias.choices[0]
        return first if isinstance(first, str) else field_name
    return f"FLX_{field_name.upper()}"


def _field_of(loc: str) -> str:
    """The field an error location names (a field name or one of its aliases)."""
    for name, field in FlxSettings.model_fields.items():
        alias = field.validation_alias
        if name == loc or (isinstance(alias, AliasChoices) and loc in alias.choices):
            return name
    return loc


def load_settings(**overrides: Any) -> FlxSettings:
    """Read the settings; a bad value raises SettingsError naming the variable."""
    try:
        return FlxSettings(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        if not err.get("loc"):  # a rule across settings: its message names them
            msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
            raise SettingsError(f"invalid settings: {msg}") from None
        loc = str(err["loc"][0])
        name = _variable_for(_field_of(loc))
        msg = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        raw = err.get("input")
        shown = "" if "secret" in loc or "password" in loc or "key" in loc else f" (got {raw!r})"
        raise SettingsError(f"invalid setting {name}: {msg}{shown}") from None

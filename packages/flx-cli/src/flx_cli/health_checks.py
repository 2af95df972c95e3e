"""The health checks of an FLX installation, built by the composition root from the
framework of ``flx_observability`` (``HealthCheck``, ``run_checks``).

Two lists:

- ``readiness_checks``: what one server process needs to serve (``/health/ready``, the gRPC
  health service): the database; Redis when FLX_REDIS_URL is set; the broker when runs go to
  workers.
- ``installation_checks``: those, plus what the installation needs to do its work, as
  `flx doctor` reports it: disk space under FLX_HOME, a live scheduler (when a pipeline has
  a schedule), live workers (with the celery executor). Scheduler and workers are read from
  the database (see ``flx_meltano.liveness``), so any process sees them.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flx_core.config import FlxSettings
    from flx_observability import HealthCheck

REMEDIES = {
    "database": "check FLX_DATABASE_URL and that the database server runs; a database "
    "without the current schema needs `flx db upgrade`",
    "redis": "start Redis, or fix FLX_REDIS_URL (unset it to keep rate limits per process)",
    "broker": "start the broker (RabbitMQ or Redis), or fix FLX_BROKER_URL",
    "disk": "free space under FLX_HOME (old execution logs are in $FLX_HOME/logs), or lower "
    "FLX_HEALTH_MIN_FREE_MB",
    "scheduler": "start `flx scheduler` (or `flx serve`, which runs one), against this database",
    "workers": "start `flx worker` consuming the queues the runs go to (FLX_DEFAULT_QUEUE and "
    "the pipelines' queues), against this database and broker; more workers (or a higher "
    "--concurrency) when they are all busy",
}


def _check(name: str, probe: Any, timeout: float = 3.0) -> HealthCheck:
    from flx_observability import HealthCheck

    return HealthCheck(name, probe, timeout=timeout, remedy=REMEDIES[name])


def readiness_checks(runtime: Any) -> list[HealthCheck]:
    """What ``/health/ready`` probes (see the module's doc)."""
    return [_check("database", lambda: _database(runtime)), *_services(runtime.settings)]


def installation_checks(runtime: Any) -> list[HealthCheck]:
    """What `flx doctor` probes (see the module's doc)."""
    settings: FlxSettings = runtime.settings
    checks = [*readiness_checks(runtime), _disk(settings)]
    checks.append(_check("scheduler", lambda: _scheduler(runtime)))
    if settings.executor == "celery":
        checks.append(_check("workers", lambda: _workers(runtime)))
    return checks


def checks_without_database(settings: FlxSettings) -> list[HealthCheck]:
    """Those of `flx doctor`'s checks that need no database (when it cannot be reached)."""
    return [*_services(settings), _disk(settings)]


def _services(settings: FlxSettings) -> list[HealthCheck]:
    """Redis when FLX_REDIS_URL is set; the broker when runs go to workers."""
    checks = []
    if settings.redis_url:
        url = settings.redis_url
        checks.append(_check("redis", lambda: _redis(url)))
    if settings.executor == "celery" and settings.broker_url:
        broker = settings.broker_url
        checks.append(_check("broker", lambda: _broker(broker), timeout=5.0))
    return checks


def _disk(settings: FlxSettings) -> HealthCheck:
    from flx_observability import disk_space

    return _check("disk", disk_space(settings.home_path, settings.health_min_free_mb))


async def _database(runtime: Any) -> str:
    from sqlalchemy import text

    from flx_core.config import mask_url

    engine = getattr(runtime, "engine", None)
    if engine is None:
        raise RuntimeError("this process has no database engine")
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))
    return f"{mask_url(str(runtime.url))} answers"


async def _redis(url: str) -> str:
    import redis.asyncio as redis

    from flx_core.config import mask_url

    client = redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2)
    try:
        await client.ping()
    except Exception as exc:
        raise RuntimeError(f"cannot reach Redis at {mask_url(url)}: {exc}") from None
    finally:
        await client.aclose()
    return f"{mask_url(url)} answers"


async def _broker(url: str) -> str:
    from flx_core.config import mask_url
    from flx_meltano.distributed.broker import check_broker

    # kombu connects blocking: in a thread, bounded by its own timeout.
    await asyncio.to_thread(check_broker, url, 3.0)
    return f"{mask_url(url)} answers"


async def _scheduler(runtime: Any) -> str:
    from flx_meltano import scheduler_alive

    return await scheduler_alive(runtime.app, runtime.settings)


async def _workers(runtime: Any) -> str:
    from flx_meltano import workers_alive

    return await workers_alive(runtime.app, runtime.settings)

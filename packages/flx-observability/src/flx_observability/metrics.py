"""The metrics a process counts itself, and their exposition.

Two kinds of FLX metrics exist (see docs/observability.md):

- business metrics (executions, records, durations, KPIs, logins) are read from the database
  at scrape time by ``BusinessMetrics`` (``metrics_business``): any process that serves them
  reports the whole installation, whichever process ran the executions;
- process metrics (this module) are counted where they happen: HTTP and gRPC requests, the
  scheduler's ticks and lag, reaped executions, extension reloads, the runs of a worker.

Several processes behind one port (uvicorn workers, Celery's pool children) share their
counts through prometheus_client's multiprocess mode: ``PROMETHEUS_MULTIPROC_DIR`` names a
directory every process writes its values to, set before any of them imports
prometheus_client (``metrics_multiprocess``), and the process that answers the scrape
adds them up.

Labels are bounded: HTTP routes are templates (``/api/v1/pipelines/{name}``), gRPC methods
are the service's method names, statuses and outcomes are fixed sets; no execution id,
user or email is ever a label.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

#: Durations of requests, in seconds.
REQUEST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
#: How late a cron time fires, in seconds.
LAG_BUCKETS = (0.1, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 300.0)

HTTP_REQUESTS = Counter(
    "flx_http_requests",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_DURATION = Histogram(
    "flx_http_request_duration_seconds",
    "Time to answer an HTTP request (to the end of its body), by method and route template.",
    ["method", "route"],
    buckets=REQUEST_BUCKETS,
)
GRPC_REQUESTS = Counter(
    "flx_grpc_requests",
    "gRPC calls answered, by full method name and status code.",
    ["method", "code"],
)
GRPC_DURATION = Histogram(
    "flx_grpc_request_duration_seconds",
    "Time to answer a gRPC call, by full method name.",
    ["method"],
    buckets=REQUEST_BUCKETS,
)
SCHEDULER_TICKS = Counter("flx_scheduler_ticks", "Passes of a scheduler over the schedules.")
SCHEDULER_LAST_TICK = Gauge(
    "flx_scheduler_last_tick_timestamp_seconds",
    "When a scheduler of this process last ended a pass (Unix time).",
    multiprocess_mode="max",
)
SCHEDULER_LAG = Histogram(
    "flx_scheduler_lag_seconds",
    "Seconds from a cron time to its fire.",
    buckets=LAG_BUCKETS,
)
SCHEDULE_FIRES = Counter(
    "flx_schedule_fires",
    "Cron times fired by this process, by outcome (queued, skipped, failed).",
    ["outcome"],
)
EXECUTIONS_REAPED = Counter(
    "flx_executions_reaped",
    "Executions the reaper marked failed because their process or heartbeat was gone.",
)
EXTENSION_RELOADS = Counter(
    "flx_extension_reloads",
    "Extension loads and reloads, by outcome (loaded, failed).",
    ["outcome"],
)
WORKER_RUNS_ACTIVE = Gauge(
    "flx_worker_runs_active",
    "Executions running in this worker's pool now.",
    multiprocess_mode="livesum",
)
WORKER_RUNS = Counter(
    "flx_worker_runs",
    "Executions this worker ran to their end, by final status.",
    ["status"],
)


def render(*registries: CollectorRegistry) -> bytes:
    """The Prometheus text exposition of ``registries`` (their metric names are distinct)."""
    return b"".join(generate_latest(r) for r in registries)

"""What the database says, at one moment, of the whole installation's runs: the data of the
business metrics. The engine fills it (one aggregated read); the collector exports it."""

from __future__ import annotations

from dataclasses import dataclass, field

#: Upper bounds of the run duration histogram's buckets, in seconds (+Inf implied).
DURATION_BUCKETS: tuple[float, ...] = (
    1.0,
    5.0,
    15.0,
    30.0,
    60.0,
    120.0,
    300.0,
    600.0,
    1800.0,
    3600.0,
    7200.0,
    21600.0,
    86400.0,
)


@dataclass(frozen=True)
class ExecutionTotals:
    """The ended executions of one pipeline with one final status."""

    pipeline: str
    status: str
    count: int
    #: How many of them fall at or under each bound of DURATION_BUCKETS (cumulative);
    #: ``timed`` counts those that started (the others have no duration).
    duration_buckets: tuple[int, ...] = ()
    timed: int = 0
    duration_sum: float = 0.0


@dataclass(frozen=True)
class PipelineTotals:
    """Everything one pipeline moved and committed, over all its executions, and its
    current state."""

    pipeline: str
    enabled: bool = True
    records: int = 0
    bytes: int = 0
    state_commits: int = 0
    running: int = 0
    queued: int = 0
    success_rate_24h: float | None = None
    success_rate_7d: float | None = None
    last_success_timestamp: float | None = None
    freshness_seconds: float | None = None
    expected_interval_seconds: float | None = None
    overdue: bool = False
    consecutive_failures: int = 0


@dataclass(frozen=True)
class StreamTotals:
    pipeline: str
    stream: str
    records: int


@dataclass(frozen=True)
class BusinessSnapshot:
    executions: list[ExecutionTotals] = field(default_factory=list)
    pipelines: list[PipelineTotals] = field(default_factory=list)
    streams: list[StreamTotals] = field(default_factory=list)
    #: Failed logins by reason (bad_credentials, account_locked, ...).
    login_failures: dict[str, int] = field(default_factory=dict)
    lockouts: int = 0
    #: Age of the oldest execution waiting for a worker, None when none waits.
    oldest_queued_seconds: float | None = None
    #: When a scheduler last recorded its tick (Unix time), None when none ever did.
    scheduler_last_tick: float | None = None
    #: Running executions whose heartbeat stopped, and due queued ones no worker took,
    #: for longer than the heartbeat timeout.
    unattended_running: int = 0
    unattended_queued: int = 0

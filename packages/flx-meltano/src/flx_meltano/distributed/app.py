"""The Celery application of FLX, built from the settings (never at import time).

What each setting is for:

- ``task_acks_late`` + ``task_reject_on_worker_lost``: a task message is acknowledged when
  its run has ended, not when it starts, so a worker that dies before starting a run gives
  the message back to the broker for another worker. A message given back while its run
  still goes (the broker redelivers it: RabbitMQ when the worker's connection drops, Redis
  after ``visibility_timeout``) is harmless: the run's execution is no longer queued, and
  a worker handed it records nothing and returns (PipelineRun skips it). The database (the
  execution's status and the pipeline's lock), not the broker, makes runs happen once.
- ``worker_prefetch_multiplier=1``: a pool child holds one message at a time, so runs
  waiting in the broker go to whichever worker frees a slot first.
- JSON only: a message is a RunRequest as JSON; no pickle from the network.
- No result backend: an execution's outcome, logs and state are in the FLX database.
- Broker connections are retried (a worker survives a broker restart; a publish retries a
  few times quickly, then the run fails with the reason), and a worker that loses its
  broker connection lets its runs go on (``worker_cancel_long_running_tasks_on_connection_loss``
  off): they record their own end in the database.
- Redis ``visibility_timeout`` (one hour): how long a message a worker took but has not
  acknowledged stays hidden from the others. Runs longer than that are redelivered once an
  hour to a worker that skips them; a worker killed while holding a message that had not
  started yet gives it back after that long. A retry's delay (the message's countdown,
  which the worker holds unacknowledged until then) longer than an hour is redelivered
  meanwhile too, and the copies are skipped the same way.
- RabbitMQ closes a channel whose message stays unacknowledged longer than its
  ``consumer_timeout`` (30 minutes by default): for runs longer than that, raise it in
  rabbitmq.conf (``consumer_timeout``, in milliseconds). A run the timeout hits goes on and
  records its end; only its message is redelivered, and skipped.
- Remote control, gossip, mingle and worker events are off: FLX talks to its runs through
  the database, and these cost every worker start and broker round trips.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from flx_core.config import FlxSettings

if TYPE_CHECKING:
    from celery import Celery

#: Redis only: seconds before an unacknowledged message is handed to another worker.
VISIBILITY_TIMEOUT = 3600
#: A publish that fails is retried this often, quickly: the requester is waiting.
PUBLISH_RETRY_POLICY = {
    "max_retries": 3,
    "interval_start": 0.2,
    "interval_step": 0.5,
    "interval_max": 1.0,
}


def celery_config(settings: FlxSettings) -> dict[str, Any]:
    if settings.broker_url is None:
        raise ValueError("FLX_EXECUTOR=celery needs FLX_BROKER_URL (amqp:// or redis://)")
    transport_options: dict[str, Any] = {}
    if settings.broker_url.startswith(("redis://", "rediss://")):
        transport_options["visibility_timeout"] = VISIBILITY_TIMEOUT
    else:
        # The broker confirms each publish: a run request is on the broker, or an error.
        transport_options["confirm_publish"] = True
    return {
        "broker_url": settings.broker_url,
        "broker_transport_options": transport_options,
        "broker_connection_retry": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        "broker_connection_timeout": 5.0,
        "task_default_queue": settings.default_queue,
        "task_create_missing_queues": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "event_serializer": "json",
        "result_backend": None,
        "task_ignore_result": True,
        "task_store_errors_even_if_ignored": False,
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_publish_retry": True,
        "task_publish_retry_policy": PUBLISH_RETRY_POLICY,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_enable_remote_control": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "worker_hijack_root_logger": False,
        "worker_redirect_stdouts": False,
        "enable_utc": True,
    }


def make_celery(settings: FlxSettings) -> Celery:
    """A Celery application for ``settings``' broker: enough to send runs; a worker adds
    the task that executes them (see ``flx_meltano.distributed.worker``)."""
    from celery import Celery

    # No fixups: the Django one would set up the web adapter's Django in every worker.
    app = Celery("flx", set_as_current=False, fixups=[])
    app.conf.update(celery_config(settings))
    return app

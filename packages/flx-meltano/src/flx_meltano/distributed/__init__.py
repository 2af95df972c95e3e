"""The distributed executor: runs sent through a Celery broker (RabbitMQ or Redis) to
`flx worker` processes, followed through the database from anywhere.

Celery itself is imported only when something sends or works (``make_celery``,
``run_worker``, the first ``CeleryExecutor.submit``), not by importing this package: a
`flx` command that only reads executions does not pay for it.
"""

from flx_meltano.distributed.app import make_celery as make_celery
from flx_meltano.distributed.broker import (
    BrokerUnavailable as BrokerUnavailable,
    check_broker as check_broker,
)
from flx_meltano.distributed.executor import (
    TASK_NAME as TASK_NAME,
    CeleryExecutor as CeleryExecutor,
)
from flx_meltano.distributed.follow import Follower as Follower
from flx_meltano.distributed.worker import (
    WorkerRefused as WorkerRefused,
    run_worker as run_worker,
    worker_name as worker_name,
)

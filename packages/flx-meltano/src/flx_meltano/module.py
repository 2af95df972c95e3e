"""Entry point of the engine's module factory (group ``flx.modules``).

Loading it registers every use case on the handler table, so a process (or the FLX daemon,
which loads the entry points once for all its workers) pays for those imports once.
"""

from flx_meltano.application import (  # noqa: F401  (registration)
    kpis,
    logs,
    meltano_import,
    metrics,
    plugins,
    runs,
    schedules,
    state,
    streams,
)
from flx_meltano.application.module import build_module as build_module

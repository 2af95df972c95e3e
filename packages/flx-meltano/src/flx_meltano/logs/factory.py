"""Which log store a process uses."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flx_core.domain.ports import LogStorePort
from flx_meltano.logs.database import DatabaseLogStore
from flx_meltano.logs.files import FileLogStore

if TYPE_CHECKING:
    from flx_core.application import Wiring


def log_store(wiring: Wiring) -> LogStorePort:
    """The database when the settings send logs there (``FLX_LOG_STORE``; by default on
    PostgreSQL, where runs may happen on other machines) and the process has one; else the
    files under FLX_HOME. The database store falls back to those files for a run that left
    no rows (one logged before its logs went to the database)."""
    files = FileLogStore(wiring.settings.home_path)
    if wiring.settings.logs_in_database and wiring.session_factory is not None:
        return DatabaseLogStore(wiring.session_factory, fallback=files)
    return files

"""Execution logs from anywhere: the log stores (files under FLX_HOME, or the database),
the shipper that copies a run's log file into the store as it grows, and tails."""

from flx_meltano.logs.database import DatabaseLogStore as DatabaseLogStore
from flx_meltano.logs.factory import log_store as log_store
from flx_meltano.logs.files import FileLogStore as FileLogStore
from flx_meltano.logs.shipper import LogShipper as LogShipper
from flx_meltano.logs.tail import last_lines as last_lines

"""Versioned Singer state: database and file-system stores, partial-state merging."""

from flx_meltano.state.db import DatabaseStateStore as DatabaseStateStore
from flx_meltano.state.files import FileStateStore as FileStateStore
from flx_meltano.state.merge import merge_states as merge_states

"""SQLAlchemy persistence: engines, tables, repositories, unit of work and migrations."""

from flx_core.infrastructure.persistence.engine import (
    database_url as database_url,
    is_sqlite as is_sqlite,
    make_engine as make_engine,
    make_session_factory as make_session_factory,
)
from flx_core.infrastructure.persistence.migrate import (
    MigrationSet as MigrationSet,
    current as current,
    discover_migration_sets as discover_migration_sets,
    downgrade as downgrade,
    heads as heads,
    is_up_to_date as is_up_to_date,
    upgrade as upgrade,
)
from flx_core.infrastructure.persistence.repositories import (
    reseal_secrets as reseal_secrets,
    stored_secrets as stored_secrets,
)
from flx_core.infrastructure.persistence.tables import metadata as metadata
from flx_core.infrastructure.persistence.unit_of_work import SqlUnitOfWork as SqlUnitOfWork

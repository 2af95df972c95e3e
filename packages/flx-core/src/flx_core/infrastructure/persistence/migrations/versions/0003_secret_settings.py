"""secret settings of plugins and pipelines encrypted at rest

Revision ID: 0003_core
Revises: 0002_core
Create Date: 2026-11-28

Encrypts the secret settings stored in clear (declared by their plugin, named like a secret,
or connection strings carrying a password), and masks those that recorded pipeline changes
hold in the audit trail. The key comes from the Alembic config attribute ``secret_cipher``
(a function that ``flx_core.infrastructure.persistence.migrate`` builds from the settings);
it is asked for only when a row holds a secret. Downgrading decrypts them again.
"""

from collections.abc import Callable, Sequence
from typing import Any

import sqlalchemy as sa
from alembic import context, op

from flx_core.domain.secrets import mask_settings
from flx_core.infrastructure.secret_cipher import CLEAR, SecretCipher, inventory

revision: str = "0003_core"
down_revision: str | None = "0002_core"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

plugins = sa.table(
    "plugins",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("settings", sa.JSON),
    sa.column("config", sa.JSON),
)
pipelines = sa.table(
    "pipelines",
    sa.column("id", sa.String),
    sa.column("name", sa.String),
    sa.column("config", sa.JSON),
)
events = sa.table(
    "events",
    sa.column("position", sa.Integer),
    sa.column("event_type", sa.String),
    sa.column("payload", sa.JSON),
)


def _lazy_cipher() -> Callable[[], SecretCipher]:
    made: list[SecretCipher] = []

    def get() -> SecretCipher:
        if not made:
            provide = context.config.attributes.get("secret_cipher")
            if provide is None:
                raise RuntimeError(
                    "this migration encrypts secret settings and needs the secret key: "
                    "run it with `flx db upgrade`"
                )
            made.append(provide())
        return made[0]

    return get


def _declared(settings: Any) -> frozenset[str]:
    return frozenset(
        s["name"] for s in settings or () if isinstance(s, dict) and s.get("kind") == "secret"
    )


def _secret_names(conn: sa.Connection) -> dict[str, frozenset[str]]:
    rows = conn.execute(sa.select(plugins.c.name, plugins.c.settings)).all()
    return {name: _declared(settings) for name, settings in rows}


def upgrade() -> None:
    conn = op.get_bind()
    if conn.dialect.name == "sqlite":
        # Zero the space the values in clear leave behind, so the file no longer holds them.
        conn.exec_driver_sql("PRAGMA secure_delete = ON")
    cipher = _lazy_cipher()
    declared = _secret_names(conn)
    for pid, name, config in conn.execute(
        sa.select(plugins.c.id, plugins.c.name, plugins.c.config)
    ).all():
        names = declared[name]
        if inventory(config, names)[CLEAR]:
            sealed = cipher().reseal(config, names, plugin=name)
            conn.execute(plugins.update().where(plugins.c.id == pid).values(config=sealed))
    for pid, name, config in conn.execute(
        sa.select(pipelines.c.id, pipelines.c.name, pipelines.c.config)
    ).all():
        if not any(inventory(v, declared.get(k, frozenset()))[CLEAR] for k, v in config.items()):
            continue
        sealed = {
            k: cipher().reseal(v, declared.get(k, frozenset()), plugin=k, pipeline=name)
            for k, v in config.items()
        }
        conn.execute(pipelines.update().where(pipelines.c.id == pid).values(config=sealed))
    for position, payload in conn.execute(
        sa.select(events.c.position, events.c.payload).where(
            events.c.event_type == "PipelineUpdated"
        )
    ).all():
        changes = payload.get("changes") or {}
        config = changes.get("config")
        if not isinstance(config, dict):
            continue
        masked = {
            k: mask_settings(v, declared.get(k, frozenset())) if isinstance(v, dict) else v
            for k, v in config.items()
        }
        if masked != config:
            payload = {**payload, "changes": {**changes, "config": masked}}
            conn.execute(
                events.update().where(events.c.position == position).values(payload=payload)
            )


def downgrade() -> None:
    conn = op.get_bind()
    cipher = _lazy_cipher()
    for pid, name, config in conn.execute(
        sa.select(plugins.c.id, plugins.c.name, plugins.c.config)
    ).all():
        if any(k != CLEAR for k in inventory(config)):
            plain = cipher().unseal(config, plugin=name)
            conn.execute(plugins.update().where(plugins.c.id == pid).values(config=plain))
    for pid, name, config in conn.execute(
        sa.select(pipelines.c.id, pipelines.c.name, pipelines.c.config)
    ).all():
        if not any(k != CLEAR for v in config.values() for k in inventory(v)):
            continue
        plain = {k: cipher().unseal(v, plugin=k, pipeline=name) for k, v in config.items()}
        conn.execute(pipelines.update().where(pipelines.c.id == pid).values(config=plain))

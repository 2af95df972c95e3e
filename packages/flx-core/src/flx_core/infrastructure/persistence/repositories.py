"""SQL repositories: map table rows to and from domain aggregates.

Secret settings of plugins and pipelines are encrypted here, on the way to the table, and
decrypted on the way back (see ``flx_core.infrastructure.secret_cipher``): the aggregates
always carry plain values. A pipeline's setting is secret by the rules of its plugin, whose
declarations are read from the plugins table in the same session.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Sequence
from typing import Any

from sqlalchemy import Table, and_, delete, insert, or_, select, update
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from flx_core.domain.errors import AlreadyExists, ConcurrencyConflict
from flx_core.domain.execution import PipelineExecution
from flx_core.domain.pipeline import Pipeline
from flx_core.domain.plugin import Plugin
from flx_core.domain.ports import (
    EventFilter,
    EventStore,
    ExecutionFilter,
    ExecutionRepository,
    Page,
    PipelineFilter,
    PipelineRepository,
    PluginRepository,
    StoredEvent,
)
from flx_core.domain.pydantic_base import DomainAggregateRoot, DomainEvent
from flx_core.domain.secrets import mask_settings
from flx_core.domain.value_objects import ExecutionStatus, PluginType, SettingKind
from flx_core.infrastructure.persistence import tables as t
from flx_core.infrastructure.persistence.cursor import (
    aware,
    decode_cursor,
    encode_cursor,
    parse_time,
)
from flx_core.infrastructure.secret_cipher import CLEAR, SecretCipher, inventory

ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.QUEUED, ExecutionStatus.RUNNING)


async def _save_versioned(
    session: AsyncSession, table: Table, aggregate: DomainAggregateRoot, values: dict[str, Any]
) -> None:
    """UPDATE guarded by the version the aggregate was read at (optimistic locking)."""
    values = values | {"version": aggregate.version + 1}
    try:
        result = await session.execute(
            update(table)
            .where(table.c.id == aggregate.id, table.c.version == aggregate.version)
            .values(**values)
        )
    except OperationalError as exc:
        # SQLite refuses a write from a transaction whose snapshot is older than the last
        # commit ("database is locked"): another writer got there first.
        if "locked" not in str(exc):
            raise
        raise ConcurrencyConflict(
            f"{table.name[:-1]} {aggregate.id} was changed by someone else; reload and retry",
            id=aggregate.id,
        ) from None
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ConcurrencyConflict(
            f"{table.name[:-1]} {aggregate.id} was changed by someone else; reload and retry",
            id=aggregate.id,
        )
    aggregate.version += 1


# -- secret settings --------------------------------------------------------------------
def secret_names_of(settings: Any) -> frozenset[str]:
    """The settings a plugin row declares secret (its ``settings`` JSON column)."""
    return frozenset(
        s["name"]
        for s in settings or ()
        if isinstance(s, dict) and s.get("kind") == SettingKind.SECRET.value
    )


async def declared_secrets(
    session: AsyncSession, plugins: Collection[str]
) -> dict[str, frozenset[str]]:
    """The declared secret settings of the named plugins, by plugin name."""
    if not plugins:
        return {}
    c = t.plugins.c
    rows = await session.execute(select(c.name, c.settings).where(c.name.in_(list(plugins))))
    return {name: secret_names_of(settings) for name, settings in rows.all()}


def _seal_pipeline_config(
    config: dict[str, dict[str, Any]], declared: dict[str, frozenset[str]], cipher: SecretCipher
) -> dict[str, dict[str, Any]]:
    return {
        plugin: cipher.seal(values, declared.get(plugin, frozenset()))
        for plugin, values in config.items()
    }


async def _seal_pipelines_for(session: AsyncSession, cipher: SecretCipher, plugin: Plugin) -> None:
    """Encrypt the pipeline settings of ``plugin`` that it declares secret and that were
    stored in clear (set before the declaration)."""
    names = plugin.secret_names
    if not names:
        return
    c = t.pipelines.c
    for pid, pname, config in (await session.execute(select(c.id, c.name, c.config))).all():
        values = config.get(plugin.name)
        if not isinstance(values, dict) or not inventory(values, names)[CLEAR]:
            continue
        sealed = cipher.reseal(values, names, plugin=plugin.name, pipeline=pname)
        await session.execute(
            update(t.pipelines).where(c.id == pid).values(config={**config, plugin.name: sealed})
        )


# -- pipelines --------------------------------------------------------------------------
def _pipeline_values(
    p: Pipeline, cipher: SecretCipher, declared: dict[str, frozenset[str]]
) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "description": p.description,
        "extractor": p.extractor,
        "mappers": list(p.mappers),
        "loader": p.loader,
        "config": _seal_pipeline_config(p.config, declared, cipher),
        "select_rules": list(p.select),
        "stream_metadata": p.metadata,
        "schedule": p.schedule.value if p.schedule else None,
        "enabled": p.enabled,
        "tags": list(p.tags),
        "state_id": p.state_id,
        "retries": p.retries,
        "retry_delay": p.retry_delay,
        "on_conflict": p.on_conflict,
        "queue": p.queue,
        "timezone": p.timezone,
        "catchup": p.catchup,
        "schema_overrides": p.schema_overrides,
        "catalog_path": p.catalog_path,
        "state_path": p.state_path,
        "load_schema": p.load_schema,
        "select_filter": list(p.select_filter),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _pipeline_from(row: Any, cipher: SecretCipher) -> Pipeline:
    m = row._mapping
    config = {
        plugin: cipher.unseal(values, plugin=plugin, pipeline=m["name"])
        for plugin, values in m["config"].items()
    }
    return Pipeline(
        id=m["id"],
        name=m["name"],
        description=m["description"],
        extractor=m["extractor"],
        mappers=m["mappers"],
        loader=m["loader"],
        config=config,
        select=m["select_rules"],
        metadata=m["stream_metadata"],
        schedule={"value": m["schedule"]} if m["schedule"] else None,
        enabled=m["enabled"],
        tags=m["tags"],
        state_id=m["state_id"],
        retries=m["retries"],
        retry_delay=m["retry_delay"],
        on_conflict=m["on_conflict"],
        queue=m["queue"],
        timezone=m["timezone"],
        catchup=m["catchup"],
        schema_overrides=m["schema_overrides"],
        catalog_path=m["catalog_path"],
        state_path=m["state_path"],
        load_schema=m["load_schema"],
        select_filter=m["select_filter"],
        version=m["version"],
        created_at=aware(m["created_at"]),
        updated_at=aware(m["updated_at"]),
    )


class SqlPipelineRepository(PipelineRepository):
    def __init__(self, session: AsyncSession, cipher: SecretCipher) -> None:
        self.session = session
        self.cipher = cipher

    async def _values(self, pipeline: Pipeline) -> dict[str, Any]:
        declared = await declared_secrets(self.session, pipeline.config)
        return _pipeline_values(pipeline, self.cipher, declared)

    def _from(self, row: Any) -> Pipeline:
        return _pipeline_from(row, self.cipher)

    async def add(self, pipeline: Pipeline) -> None:
        values = await self._values(pipeline)
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(t.pipelines).values(**values, version=1))
        except IntegrityError:
            raise AlreadyExists(f"pipeline {pipeline.name!r} already exists") from None
        pipeline.version = 1

    async def get(self, pipeline_id: str) -> Pipeline | None:
        row = (
            await self.session.execute(select(t.pipelines).where(t.pipelines.c.id == pipeline_id))
        ).first()
        return self._from(row) if row else None

    async def get_by_name(self, name: str) -> Pipeline | None:
        row = (
            await self.session.execute(select(t.pipelines).where(t.pipelines.c.name == name))
        ).first()
        return self._from(row) if row else None

    async def save(self, pipeline: Pipeline) -> None:
        await _save_versioned(self.session, t.pipelines, pipeline, await self._values(pipeline))

    async def delete(self, pipeline: Pipeline) -> None:
        await self.session.execute(delete(t.pipelines).where(t.pipelines.c.id == pipeline.id))

    async def list(
        self, flt: PipelineFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[Pipeline]:
        c = t.pipelines.c
        query = select(t.pipelines).order_by(c.name).limit(limit + 1)
        if flt.name_contains:
            query = query.where(c.name.contains(flt.name_contains, autoescape=True))
        if flt.extractor:
            query = query.where(c.extractor == flt.extractor)
        if flt.loader:
            query = query.where(c.loader == flt.loader)
        if flt.enabled is not None:
            query = query.where(c.enabled == flt.enabled)
        if cursor:
            (after,) = decode_cursor(cursor, 1)
            query = query.where(c.name > after)
        rows = (await self.session.execute(query)).all()
        items = [self._from(r) for r in rows]
        if flt.tag:
            # Tags are a JSON list; filtering in Python keeps one query for both databases.
            items = [p for p in items if flt.tag in p.tags]
        more = len(rows) > limit
        items = items[:limit]
        nxt = encode_cursor(rows[limit - 1]._mapping["name"]) if more else None
        return Page(items=items, next_cursor=nxt)


# -- plugins ----------------------------------------------------------------------------
def _plugin_values(p: Plugin, cipher: SecretCipher) -> dict[str, Any]:
    return {
        "id": p.id,
        "name": p.name,
        "plugin_type": p.plugin_type.value,
        "variant": p.variant,
        "pip_url": p.pip_url,
        "namespace": p.namespace,
        "executable": p.executable,
        "settings": [s.model_dump(mode="json") for s in p.settings],
        "config": cipher.seal(p.config, p.secret_names),
        "capabilities": list(p.capabilities),
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    }


def _plugin_from(row: Any, cipher: SecretCipher) -> Plugin:
    m = dict(row._mapping)
    m["created_at"], m["updated_at"] = aware(m["created_at"]), aware(m["updated_at"])
    m["config"] = cipher.unseal(m["config"], plugin=m["name"])
    return Plugin.model_validate(m)


class SqlPluginRepository(PluginRepository):
    def __init__(self, session: AsyncSession, cipher: SecretCipher) -> None:
        self.session = session
        self.cipher = cipher

    async def add(self, plugin: Plugin) -> None:
        values = _plugin_values(plugin, self.cipher)
        try:
            async with self.session.begin_nested():
                await self.session.execute(insert(t.plugins).values(**values, version=1))
        except IntegrityError:
            raise AlreadyExists(f"plugin {plugin.name!r} already exists") from None
        plugin.version = 1
        await _seal_pipelines_for(self.session, self.cipher, plugin)

    async def get_by_name(self, name: str) -> Plugin | None:
        row = (
            await self.session.execute(select(t.plugins).where(t.plugins.c.name == name))
        ).first()
        return _plugin_from(row, self.cipher) if row else None

    async def save(self, plugin: Plugin) -> None:
        await _save_versioned(self.session, t.plugins, plugin, _plugin_values(plugin, self.cipher))
        await _seal_pipelines_for(self.session, self.cipher, plugin)

    async def delete(self, plugin: Plugin) -> None:
        await self.session.execute(delete(t.plugins).where(t.plugins.c.id == plugin.id))

    async def list(self, plugin_type: PluginType | None = None) -> list[Plugin]:
        query = select(t.plugins).order_by(t.plugins.c.plugin_type, t.plugins.c.name)
        if plugin_type is not None:
            query = query.where(t.plugins.c.plugin_type == plugin_type.value)
        return [_plugin_from(r, self.cipher) for r in (await self.session.execute(query)).all()]


# -- executions -------------------------------------------------------------------------
def _execution_values(e: PipelineExecution) -> dict[str, Any]:
    values = e.model_dump(exclude={"version"})
    values["status"] = e.status.value
    return values


def _execution_from(row: Any) -> PipelineExecution:
    m = dict(row._mapping)
    for key in (
        "created_at",
        "started_at",
        "finished_at",
        "heartbeat_at",
        "scheduled_for",
        "not_before",
    ):
        m[key] = aware(m[key])
    return PipelineExecution.model_validate(m)


class SqlExecutionRepository(ExecutionRepository):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, execution: PipelineExecution) -> None:
        await self.session.execute(
            insert(t.executions).values(**_execution_values(execution), version=1)
        )
        execution.version = 1

    async def get(self, execution_id: str) -> PipelineExecution | None:
        row = (
            await self.session.execute(
                select(t.executions).where(t.executions.c.id == execution_id)
            )
        ).first()
        return _execution_from(row) if row else None

    async def save(self, execution: PipelineExecution) -> None:
        await _save_versioned(self.session, t.executions, execution, _execution_values(execution))

    async def list(
        self, flt: ExecutionFilter, *, limit: int = 50, cursor: str | None = None
    ) -> Page[PipelineExecution]:
        c = t.executions.c
        query = select(t.executions).order_by(c.created_at.desc(), c.id.desc()).limit(limit + 1)
        if flt.pipeline_id:
            query = query.where(c.pipeline_id == flt.pipeline_id)
        if flt.pipeline_name:
            query = query.where(c.pipeline_name == flt.pipeline_name)
        if flt.statuses:
            query = query.where(c.status.in_([s.value for s in flt.statuses]))
        if flt.trigger:
            query = query.where(c.trigger == flt.trigger)
        if flt.retry_of:
            query = query.where(c.retry_of == flt.retry_of)
        if flt.since:
            query = query.where(c.created_at >= flt.since)
        if flt.until:
            query = query.where(c.created_at < flt.until)
        if cursor:
            created, last_id = decode_cursor(cursor, 2)
            when = parse_time(created)
            # The bound on created_at alone is what the index (created_at, id) seeks to; the
            # OR alone is only a filter, so a deep page would scan every row before it.
            query = query.where(
                c.created_at <= when,
                or_(c.created_at < when, and_(c.created_at == when, c.id < last_id)),
            )
        rows = (await self.session.execute(query)).all()
        items = [_execution_from(r) for r in rows[:limit]]
        nxt = None
        if len(rows) > limit:
            last = items[-1]
            nxt = encode_cursor(last.created_at, last.id)
        return Page(items=items, next_cursor=nxt)

    async def active_for(self, pipeline_id: str) -> Sequence[PipelineExecution]:
        c = t.executions.c
        query = (
            select(t.executions)
            .where(c.pipeline_id == pipeline_id, c.status.in_([s.value for s in ACTIVE]))
            .order_by(c.created_at)
        )
        return [_execution_from(r) for r in (await self.session.execute(query)).all()]


# -- audit trail ------------------------------------------------------------------------
class SqlEventStore(EventStore):
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def append(self, events: Sequence[DomainEvent], actor: str) -> None:
        rows = [
            {
                "event_id": str(e.event_id),
                "event_type": e.event_type(),
                "aggregate_id": e.aggregate_id,
                "actor": actor,
                "occurred_at": e.occurred_at,
                "payload": e.model_dump(
                    mode="json", exclude={"event_id", "occurred_at", "aggregate_id"}
                ),
            }
            for e in events
        ]
        await self._mask_declared(rows)
        await self.session.execute(insert(t.events), rows)

    async def _mask_declared(self, rows: list[dict[str, Any]]) -> None:
        """Mask, in recorded pipeline config changes, the settings their plugins declare
        secret (the aggregate masked those that look secret, not knowing the plugins)."""
        configs = []
        for row in rows:
            changes = row["payload"].get("changes")
            if isinstance(changes, dict) and isinstance(changes.get("config"), dict):
                configs.append(changes["config"])
        if not configs:
            return
        declared = await declared_secrets(self.session, {p for c in configs for p in c})
        for config in configs:
            for plugin, values in config.items():
                if isinstance(values, dict) and declared.get(plugin):
                    config[plugin] = mask_settings(values, declared[plugin])

    async def list(self, flt: EventFilter, *, limit: int = 100) -> list[StoredEvent]:
        c = t.events.c
        if flt.after is None:
            query = select(t.events).order_by(c.position.desc()).limit(limit)
        else:
            query = select(t.events).where(c.position > flt.after)
            query = query.order_by(c.position).limit(limit)
        if flt.aggregate_id:
            query = query.where(c.aggregate_id == flt.aggregate_id)
        if flt.event_type:
            query = query.where(c.event_type == flt.event_type)
        if flt.actor:
            query = query.where(c.actor == flt.actor)
        if flt.since:
            query = query.where(c.occurred_at >= flt.since)
        if flt.until:
            query = query.where(c.occurred_at < flt.until)
        out = []
        for row in (await self.session.execute(query)).all():
            m = dict(row._mapping)
            m["occurred_at"] = aware(m["occurred_at"])
            out.append(StoredEvent.model_validate(m))
        return out


# -- re-encryption ----------------------------------------------------------------------
async def stored_secrets(session: AsyncSession) -> Counter[str]:
    """How many stored secrets each key id encrypts (``clear``: not encrypted)."""
    found: Counter[str] = Counter()
    declared: dict[str, frozenset[str]] = {}
    for name, settings, config in (
        await session.execute(select(t.plugins.c.name, t.plugins.c.settings, t.plugins.c.config))
    ).all():
        declared[name] = secret_names_of(settings)
        found.update(inventory(config, declared[name]))
    for (config,) in (await session.execute(select(t.pipelines.c.config))).all():
        for plugin, values in config.items():
            found.update(inventory(values, declared.get(plugin, frozenset())))
    return found


async def reseal_secrets(session: AsyncSession, cipher: SecretCipher) -> dict[str, int]:
    """Store every secret under the newest key (older keys and clear values re-encrypted);
    returns how many rows of each table changed. The versions of the rows do not move: the
    aggregates' values are the same."""
    primary = cipher.primary_id()

    def stale(values: dict[str, Any], names: frozenset[str]) -> bool:
        return any(kid != primary for kid in inventory(values, names))

    changed = {"plugins": 0, "pipelines": 0}
    declared: dict[str, frozenset[str]] = {}
    p = t.plugins.c
    for pid, name, settings, config in (
        await session.execute(select(p.id, p.name, p.settings, p.config))
    ).all():
        names = declared[name] = secret_names_of(settings)
        if stale(config, names):
            sealed = cipher.reseal(config, names, plugin=name)
            await session.execute(update(t.plugins).where(p.id == pid).values(config=sealed))
            changed["plugins"] += 1
    q = t.pipelines.c
    for pid, pname, config in (await session.execute(select(q.id, q.name, q.config))).all():
        if not any(stale(v, declared.get(k, frozenset())) for k, v in config.items()):
            continue
        sealed = {
            k: cipher.reseal(v, declared.get(k, frozenset()), plugin=k, pipeline=pname)
            for k, v in config.items()
        }
        await session.execute(update(t.pipelines).where(q.id == pid).values(config=sealed))
        changed["pipelines"] += 1
    return changed

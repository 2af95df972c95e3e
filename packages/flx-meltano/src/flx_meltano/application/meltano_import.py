"""Importing a Meltano project: plan it (a query), apply it (a command).

The apply sends one command per change (``AddPlugin``, ``UpdatePipeline``, ``SetState``...)
through the bus, so each is checked, recorded and audited as if typed by hand. It is not
one transaction: a failure stops it half way, and importing again finishes the job, since
an import only changes what differs.
"""

from __future__ import annotations

from flx_core.application import (
    AddPlugin,
    Command,
    CreatePipeline,
    HandlerContext,
    Message,
    Query,
    UpdatePipeline,
    UpdatePlugin,
)
from flx_core.domain import Permission, ServiceResult, ValidationFailed
from flx_core.domain.ports import EventFilter, StateStorePort
from flx_meltano.application.module import handlers
from flx_meltano.application.state import SetState
from flx_meltano.meltano_project import (
    IMPORTED_NOTE,
    Change,
    Current,
    ImportedProject,
    ImportPlan,
    MeltanoProject,
    MeltanoProjectImported,
    ProjectError,
    created_before,
    plan_import,
    project_key,
    read_project,
    read_states,
)

#: Earlier imports of a project read back for the plan (the most recent first).
_EARLIER_IMPORTS = 1000


class MeltanoSource(Message):
    """A Meltano project (a directory or its meltano.yml) and where its states are: a
    system database (SQLite file, ``postgresql://`` URI) or a ``meltano state get`` JSON.

    The paths are read by the process that handles the message. Each change an apply makes
    is a command of its own, which checks its own permission (``plugin:manage`` for
    plugins, ``state:write`` for states) against the same caller.
    """

    permission = Permission.PIPELINE_WRITE

    path: str = "."
    environment: str | None = None
    state_from: str | None = None
    #: Resolve ``$VAR`` references from the project's ``.env`` (else they stay references).
    resolve_env: bool = False
    #: The suffix of the state ids (``meltano run --state-id-suffix``); else the
    #: environment's ``state_id_suffix``.
    state_id_suffix: str | None = None


class PlanMeltanoImport(MeltanoSource, Query):
    """What importing the project would change (nothing changes)."""


class ApplyMeltanoImport(MeltanoSource, Command):
    """Import the project: its plugins, pipelines and states."""


async def current_of(
    ctx: HandlerContext, store: StateStorePort, project: MeltanoProject
) -> Current:
    """What FLX holds of the names the project uses, and of those that earlier imports of
    the project created, read in a unit of work of its own (the commands of the apply each
    run in theirs)."""
    current = Current()
    async with ctx.uow_factory() as uow:
        for spec in project.plugins:
            found = await uow.plugins.get_by_name(spec.name)
            if found is not None:
                current.plugins[spec.name] = found
        for pipe in project.pipelines:
            existing = await uow.pipelines.get_by_name(pipe.name)
            if existing is not None:
                current.pipelines[pipe.name] = existing
        earlier = await uow.events.list(
            EventFilter(
                aggregate_id=project_key(project.path, project.project_id),
                event_type=MeltanoProjectImported.event_type(),
            ),
            limit=_EARLIER_IMPORTS,
        )
        created = created_before(e.payload for e in earlier)
        current.created_before = {
            "plugin": {n for n in created["plugin"] if await uow.plugins.get_by_name(n)},
            "pipeline": {n for n in created["pipeline"] if await uow.pipelines.get_by_name(n)},
        }
    for state_id in {p.state_id for p in project.pipelines}:
        version = await store.get(state_id)
        if version is not None:
            current.states[state_id] = version
    return current


async def make_plan(msg: MeltanoSource, ctx: HandlerContext, store: StateStorePort) -> ImportPlan:
    """The plan; a problem of the project or of its states as one clear error."""
    try:
        project = read_project(
            msg.path,
            environment=msg.environment,
            resolve_env=msg.resolve_env,
            state_id_suffix=msg.state_id_suffix,
        )
        states = read_states(msg.state_from) if msg.state_from else {}
        return plan_import(project, states, await current_of(ctx, store, project))
    except ProjectError as exc:
        raise ValidationFailed(str(exc)) from None


def command_for(change: Change) -> Command | None:
    data = change.payload
    if change.action == "create":
        if change.kind == "plugin":
            return AddPlugin(**data)
        if change.kind == "pipeline":
            return CreatePipeline(**data)
    if change.action in ("create", "update") and change.kind == "state":
        return SetState(state_id=change.name, value=data["value"], note=IMPORTED_NOTE)
    if change.action == "update" and change.kind == "plugin":
        return UpdatePlugin(name=change.name, changes=data)
    if change.action == "update" and change.kind == "pipeline":
        return UpdatePipeline(pipeline=change.name, changes=data)
    return None


@handlers.query(PlanMeltanoImport)
async def plan_meltano_import(
    qry: PlanMeltanoImport, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[ImportPlan]:
    return ServiceResult.success(await make_plan(qry, ctx, store))


@handlers.command(ApplyMeltanoImport)
async def apply_meltano_import(
    cmd: ApplyMeltanoImport, ctx: HandlerContext, *, store: StateStorePort
) -> ServiceResult[ImportPlan]:
    plan = await make_plan(cmd, ctx, store)
    done: dict[tuple[str, str], list[str]] = {}
    try:
        for change in plan.changes:
            command = command_for(change)
            if command is None:
                continue
            result = await ctx.app.execute(command, principal=ctx.principal)
            if not result.ok:
                raise ValidationFailed(
                    f"{change.kind} {change.name!r} could not be {change.action}d: "
                    f"{result.message}",
                    **{change.kind: change.name},
                )
            done.setdefault((change.kind, change.action), []).append(change.name)
    finally:
        if done:
            await _record(plan, done, ctx)
    return ServiceResult.success(plan.model_copy(update={"applied": True}))


async def _record(
    plan: ImportPlan, done: dict[tuple[str, str], list[str]], ctx: HandlerContext
) -> None:
    """Record what the apply changed on the project, in a transaction of its own: it holds
    also when a later change failed (the earlier ones are committed)."""
    project = ImportedProject(id=project_key(plan.project, plan.project_id))
    project.imported(plan.project, plan.environment, done)
    async with ctx.uow_factory() as uow:
        uow.actor = ctx.principal.subject
        uow.track(project)
        await uow.commit()
        events = uow.collect_new_events()
    for event in events:
        await ctx.app.publish(event, principal=ctx.principal)

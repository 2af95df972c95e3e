"""`flx import`: bring projects of other tools into FLX (`flx import meltano`).

The module is not named ``import``, a Python keyword.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import Column, json_option, print_json, print_table, say, wide_option

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime
    from flx_meltano import ImportPlan

#: Exit code of an import that left something of the project out (listed with reasons).
EXIT_PARTIAL = 3
#: Extractor extras a created pipeline's line names (the others are in --json).
_SHOWN_EXTRAS = ("catalog_path", "state_path", "load_schema")


@click.group("import")
def importer() -> None:
    """Bring projects of other tools into FLX."""


def _no_database(cli: CliContext) -> bool:
    """Whether the embedded database is still to be created (a dry run must not)."""
    from flx_core.infrastructure.persistence.engine import database_url, sqlite_path

    path = sqlite_path(database_url(cli.settings()))
    return path is not None and not path.exists()


def _offline_plan(
    path: str,
    environment: str | None,
    state_from: str | None,
    resolve: bool,
    state_id_suffix: str | None,
) -> ImportPlan:
    """The plan against an FLX that holds nothing yet, computed without touching FLX_HOME."""
    from flx_meltano import Current, ProjectError, plan_import, read_project, read_states

    try:
        project = read_project(
            path, environment=environment, resolve_env=resolve, state_id_suffix=state_id_suffix
        )
        states = read_states(state_from) if state_from else {}
        return plan_import(project, states, Current())
    except ProjectError as exc:
        fail(str(exc))


def _describe(change: Any) -> str:
    if change.reason:
        return str(change.reason)
    if change.kind == "pipeline" and change.action == "create":
        d = change.detail
        steps = " | ".join([d["extractor"], *d["mappers"], d["loader"]])
        when = f", schedule {d['schedule']}" if d.get("schedule") else ""
        extras = "".join(f", {k} {d[k]}" for k in _SHOWN_EXTRAS if d.get(k))
        return f"{steps}{when}, state id {d['state_id']}{extras} ({d['source']})"
    if change.kind == "plugin" and change.action == "create":
        return str(change.detail["type"])
    if change.action == "update":
        return "changes " + ", ".join(change.fields)
    return ""


def _action(action: str, dry_run: bool) -> str:
    """``would create`` in a dry run; what FLX leaves as it is reads the same in both."""
    return "would " + action if dry_run and action != "left" else action


def _print(plan: ImportPlan, dry_run: bool, wide: bool) -> None:
    where = Path(plan.project).parent.name
    print_table(
        f"Meltano project {where} (environment: {plan.environment or 'none'})",
        [Column("kind", "fixed"), Column("name", "fixed"), Column("action", "fixed"), "detail"],
        [(c.kind, c.name, _action(c.action, dry_run), _describe(c)) for c in plan.changes],
        wide=wide,
    )
    if plan.unsupported:
        print_table(
            "Not imported",
            [Column("kind", "fixed"), Column("name", "fixed"), "reason"],
            [(u.kind, u.name, u.reason) for u in plan.unsupported],
            wide=wide,
        )
    if not plan.changed:
        say("nothing to change: FLX already holds this project as it is")
    elif dry_run:
        say("dry run: nothing was changed")
    else:
        counts = {a: sum(c.action == a for c in plan.changes) for a in ("create", "update")}
        say(f"imported: {counts['create']} created, {counts['update']} updated")
    left = [c for c in plan.changes if c.action == "left"]
    if left:
        say(
            f"{len(left)} plugin(s) or pipeline(s) an earlier import created are no longer in "
            "the project; FLX keeps them (`flx pipeline delete NAME`, `flx plugin remove NAME` "
            "delete them)"
        )


@importer.command("meltano")
@click.argument("path", default=".", type=click.Path(path_type=Path))
@click.option(
    "--environment", "-e", help="The Meltano environment (default_environment if not given)."
)
@click.option("--dry-run", is_flag=True, help="Print the plan; change nothing.")
@click.option(
    "--state-from",
    metavar="SYSTEMDB_URI|FILE",
    help="Meltano's system database (.meltano/meltano.db, a postgresql:// URI) or a JSON "
    "file of `meltano state get` output, whose states to import.",
)
@click.option(
    "--resolve-env",
    is_flag=True,
    help="Resolve $VAR references from the project's .env (else kept as references).",
)
@click.option(
    "--state-id-suffix",
    envvar="MELTANO_RUN_STATE_ID_SUFFIX",
    metavar="SUFFIX",
    help="The suffix `meltano run --state-id-suffix` gave the state ids "
    "(MELTANO_RUN_STATE_ID_SUFFIX; else the environment's state_id_suffix).",
)
@wide_option
@json_option
@pass_cli
def meltano(
    cli: CliContext,
    path: Path,
    environment: str | None,
    dry_run: bool,
    state_from: str | None,
    resolve_env: bool,
    state_id_suffix: str | None,
    wide: bool,
) -> None:
    """Import the Meltano project at PATH (a directory or its meltano.yml): its extractors,
    loaders, mappers, jobs, schedules and, with --state-from, its states.

    Importing again updates what changed in the project, and never moves a pipeline's
    state back behind what FLX has committed since. Exit code 3 when something of the
    project could not be imported (listed with the reason).
    """
    from flx_meltano import ApplyMeltanoImport, PlanMeltanoImport

    args: dict[str, Any] = {
        "path": str(path),
        "environment": environment,
        "state_from": state_from,
        "resolve_env": resolve_env,
        "state_id_suffix": state_id_suffix,
    }
    if dry_run and _no_database(cli):
        plan = _offline_plan(str(path), environment, state_from, resolve_env, state_id_suffix)
    else:
        message = PlanMeltanoImport(**args) if dry_run else ApplyMeltanoImport(**args)

        async def go(runtime: Runtime) -> Any:
            from flx_core.domain import Principal

            return unwrap(await runtime.app.execute(message, principal=Principal.system()))

        plan = cli.run(go)
    if cli.json:
        print_json(plan.model_dump(mode="json") | {"dry_run": dry_run})
    else:
        _print(plan, dry_run, wide)
    if plan.partial:
        raise SystemExit(EXIT_PARTIAL)

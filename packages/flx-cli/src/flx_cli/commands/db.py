"""`flx db`: apply, inspect and roll back schema migrations."""

from __future__ import annotations

import click

from flx_cli.context import CliContext, fail, pass_cli
from flx_cli.output import json_option, print_json, print_table, say


def _url(cli: CliContext) -> str:
    from flx_core.infrastructure.persistence import database_url
    from flx_core.infrastructure.private_files import ensure_private_dir

    settings = cli.settings()
    ensure_private_dir(settings.home_path)
    return database_url(settings)


@click.group()
def db() -> None:
    """Database migrations: upgrade, current, downgrade."""


@db.command("upgrade")
@json_option
@pass_cli
def upgrade(cli: CliContext) -> None:
    """Apply every pending migration of every package."""
    from flx_core.infrastructure.persistence import current, upgrade as run_upgrade

    url = _url(cli)
    try:
        run_upgrade(url, settings=cli.settings())
        revisions = current(url)
    except Exception as exc:
        _db_error(cli, exc)
    print_json(revisions) if cli.json else say(
        "database is at " + ", ".join(f"{k}={v}" for k, v in revisions.items())
    )


@db.command("current")
@json_option
@pass_cli
def current_cmd(cli: CliContext) -> None:
    """Show the applied revision of each package's history."""
    from flx_core.infrastructure.persistence import current, discover_migration_sets, heads

    url = _url(cli)
    try:
        revisions = current(url)
    except Exception as exc:
        _db_error(cli, exc)
    rows = []
    for ms in discover_migration_sets():
        head = ", ".join(sorted(heads(ms)))
        applied = revisions.get(ms.name)
        rows.append(
            {
                "package": ms.name,
                "current": applied,
                "head": head,
                "up_to_date": applied in heads(ms),
            }
        )
    if cli.json:
        print_json(rows)
    else:
        print_table(
            "Migrations",
            ["package", "current", "head", "up to date"],
            [(r["package"], r["current"] or "-", r["head"], r["up_to_date"]) for r in rows],
        )


@db.command("downgrade")
@click.argument("revision")
@click.option(
    "--package", default="core", show_default=True, help="Which package's history to move."
)
@json_option
@pass_cli
def downgrade(cli: CliContext, revision: str, package: str) -> None:
    """Move one package's schema back to REVISION (e.g. -1 or base)."""
    from flx_core.infrastructure.persistence import current, downgrade as run_downgrade

    url = _url(cli)
    try:
        run_downgrade(url, revision, package, settings=cli.settings())
        revisions = current(url)
    except Exception as exc:
        _db_error(cli, exc)
    print_json(revisions) if cli.json else say(
        "database is at " + ", ".join(f"{k}={v}" for k, v in revisions.items())
    )


def _db_error(cli: CliContext, exc: Exception) -> None:
    from flx_cli.context import describe

    if cli.debug:
        raise exc
    fail(describe(exc))

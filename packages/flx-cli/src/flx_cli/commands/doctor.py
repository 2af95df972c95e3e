"""`flx doctor`: every health check of this installation, with what to do about failures."""

from __future__ import annotations

import asyncio
import sys
from dataclasses import asdict
from typing import TYPE_CHECKING

import click

from flx_cli.context import CliContext, pass_cli
from flx_cli.output import Column, json_option, print_json, print_table, wide_option

if TYPE_CHECKING:
    from flx_core.config import FlxSettings
    from flx_observability import CheckResult


async def diagnose(settings: FlxSettings) -> list[CheckResult]:
    """The installation's checks (``flx_cli.health_checks``) on a ``cli`` process of this
    machine. When that process cannot even be built (the database is away), the database
    check fails with the reason, the checks that need it say so, the others still run."""
    from flx_cli.health_checks import checks_without_database, installation_checks
    from flx_core.bootstrap import bootstrap
    from flx_observability import run_checks

    try:
        runtime = await bootstrap(settings)
    except Exception as exc:
        from flx_cli.context import describe

        reason = describe(exc)
        needing = ["database", "scheduler"] + (["workers"] if settings.executor == "celery" else [])
        failed = [
            _failed(name, reason if name == "database" else "needs the database")
            for name in needing
        ]
        return [failed[0], *await run_checks(checks_without_database(settings)), *failed[1:]]
    try:
        return await run_checks(installation_checks(runtime))
    finally:
        await runtime.aclose()


def _failed(name: str, reason: str) -> CheckResult:
    from flx_cli.health_checks import REMEDIES
    from flx_observability import CheckResult

    return CheckResult(name, False, reason, REMEDIES[name], 0.0)


@click.command()
@json_option
@wide_option
@pass_cli
def doctor(cli: CliContext, wide: bool) -> None:
    """Check the database, Redis, the broker, disk space, the scheduler and the workers.

    Exits 1 when a check fails; each failure comes with a remedy."""
    results = asyncio.run(diagnose(cli.settings()))
    if cli.json:
        print_json([asdict(r) for r in results])
    else:
        print_table(
            "Health checks",
            ["check", "result", Column("detail"), Column("remedy")],
            [(r.name, "ok" if r.ok else "FAILED", r.detail, r.remedy or "-") for r in results],
            wide=wide,
        )
    if not all(r.ok for r in results):
        sys.exit(1)

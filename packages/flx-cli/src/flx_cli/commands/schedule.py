"""`flx schedule`: the pipelines' cron schedules, their next times and their last fires."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import click

from flx_cli.context import CliContext, pass_cli, unwrap
from flx_cli.output import Column, json_option, print_json, print_table, say, wide_option

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


@click.group()
def schedule() -> None:
    """Cron schedules of pipelines (set them with `flx pipeline create/update --schedule`)."""


def _local(moment: datetime, timezone: str, *, wide: bool = False) -> str:
    """``moment`` on the pipeline's wall clock: compact, or ISO with its offset."""
    local = moment.astimezone(ZoneInfo(timezone))
    return local.isoformat() if wide else local.strftime("%Y-%m-%d %H:%M")


def _next_times(moments: list[datetime], timezone: str, *, wide: bool) -> str:
    """The next times on the pipeline's wall clock, each after the first without what it
    shares with the one before ("2026-05-01 09:00, 09:15, 05-02 09:00")."""
    if wide:
        return ", ".join(_local(t, timezone, wide=True) for t in moments)
    shown, previous = [], None
    for moment in moments:
        local = moment.astimezone(ZoneInfo(timezone))
        if previous is None or local.year != previous.year:
            shown.append(local.strftime("%Y-%m-%d %H:%M"))
        elif local.date() != previous.date():
            shown.append(local.strftime("%m-%d %H:%M"))
        else:
            shown.append(local.strftime("%H:%M"))
        previous = local
    return ", ".join(shown)


def schedule_dict(view: Any) -> dict[str, Any]:
    """A schedule for JSON output: times in the pipeline's timezone, with their offset."""
    fire = view.last_fire
    run = view.last_run
    return {
        "pipeline": view.pipeline,
        "pipeline_id": view.pipeline_id,
        "schedule": view.schedule,
        "timezone": view.timezone,
        "catchup": view.catchup,
        "enabled": view.enabled,
        "next": [_local(t, view.timezone, wide=True) for t in view.next_fires],
        "last_fire": None
        if fire is None
        else {
            "scheduled_for": _local(fire.scheduled_for, view.timezone, wide=True),
            "fired_at": fire.fired_at.isoformat(),
            "outcome": fire.outcome,
            "execution_id": fire.execution_id,
            "note": fire.note or None,
            "scheduler": fire.scheduler,
        },
        "last_run": None if run is None else run.model_dump(mode="json"),
    }


@schedule.command("list")
@click.option(
    "--next",
    "count",
    type=click.IntRange(0, 100),
    default=3,
    show_default=True,
    help="How many next fire times to show.",
)
@wide_option
@json_option
@pass_cli
def list_schedules(cli: CliContext, count: int, wide: bool) -> None:
    """List the pipelines that have a schedule: next times (in each pipeline's timezone),
    last fire and last run."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.domain import Principal
        from flx_meltano import ListSchedules

        result = await runtime.app.execute(
            ListSchedules(next_count=count), principal=Principal.system()
        )
        return unwrap(result)

    views = cli.run(go)
    if cli.json:
        print_json({"items": [schedule_dict(v) for v in views]})
        return
    if not views:
        say("no pipeline has a schedule: set one with `flx pipeline update NAME --schedule CRON`")
        return
    rows = []
    for v in views:
        fire, run = v.last_fire, v.last_run
        upcoming = _next_times(v.next_fires, v.timezone, wide=wide)
        rows.append(
            (
                v.pipeline,
                v.schedule,
                v.timezone,
                v.catchup,
                "yes" if v.enabled else "no",
                upcoming if v.enabled else "(disabled)",
                _local(fire.scheduled_for, v.timezone, wide=wide) if fire else "",
                fire.outcome if fire else "",
                fire.execution_id if fire else None,
                run.status if run else "",
            )
        )
    # The next times are what this listing is for: never cut (like ids and times).
    columns: list[str | Column] = [
        Column("pipeline", "fixed"),
        Column("schedule", "fixed"),
        "timezone",
        Column("catchup", "fixed", wide=True),
        Column("enabled", "fixed", wide=True),
        Column("next", "fixed"),
        Column("last fire", "fixed"),
        Column("outcome", "fixed"),
        Column("execution", "id", wide=True),
        Column("last run", "fixed"),
    ]
    print_table("Schedules", columns, rows, wide=wide)

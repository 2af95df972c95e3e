"""`flx demo`: the built-in sample tap into a SQLite file, incremental on every rerun."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flx_cli.commands.run import run_pipeline, summary_lines
from flx_cli.context import CliContext, pass_cli, unwrap

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime

ROWS_PER_STREAM = 100_000
GROWTH_PER_RUN = 10_000


@click.command()
@click.option(
    "--rows",
    type=click.IntRange(min=1),
    default=ROWS_PER_STREAM,
    show_default=True,
    help="Rows per stream on the first run.",
)
@pass_cli
def demo(cli: CliContext, rows: int) -> None:
    """Set up FLX_HOME, register the built-in connectors and run pipeline `demo`.

    Each further `flx demo` lets the sample source grow and runs incrementally: only the
    rows past the stored bookmark move.
    """

    async def go(runtime: Runtime) -> Any:
        from flx_core.application import CreatePipeline, GetPipeline, UpdatePipeline
        from flx_core.domain import Principal
        from flx_meltano import GetState, RegisterBuiltinPlugins

        me = Principal.system()
        app = runtime.app
        unwrap(await app.execute(RegisterBuiltinPlugins(), principal=me))
        home = runtime.settings.home_path
        database = str(home / "demo.db")
        existing = await app.execute(GetPipeline(pipeline="demo"), principal=me)
        state_before = await app.execute(GetState(state_id="demo"), principal=me)
        incremental = existing.ok and state_before.ok and bool(state_before.value.value)
        if not existing.ok:
            unwrap(
                await app.execute(
                    CreatePipeline(
                        name="demo",
                        extractor="tap-flx-sample",
                        loader="target-flx-sqlite",
                        description="Built-in sample data into a local SQLite file",
                        config={
                            "tap-flx-sample": {"rows": rows, "seed": 7},
                            "target-flx-sqlite": {"database": database},
                        },
                    ),
                    principal=me,
                )
            )
            click.echo(
                f"created pipeline demo: tap-flx-sample -> target-flx-sqlite "
                f"({rows:,} rows per stream)",
                err=True,
            )
        elif incremental:
            pipeline = existing.value
            config = {k: dict(v) for k, v in pipeline.config.items()}
            tap = config.setdefault("tap-flx-sample", {})
            tap["rows"] = int(tap.get("rows", rows)) + GROWTH_PER_RUN
            unwrap(
                await app.execute(
                    UpdatePipeline(pipeline="demo", changes={"config": config}), principal=me
                )
            )
            click.echo(
                f"incremental run: the sample source grew to {tap['rows']:,} rows per "
                "stream; only rows past the stored bookmark move",
                err=True,
            )
        result = await run_pipeline(runtime, cli, "demo", False, False, None)
        return result, incremental, database

    execution, incremental, database = cli.run(go)
    for line in summary_lines(execution):
        click.echo(line)
    if execution.status.value != "succeeded":
        sys.exit(1)
    kind = "incremental (from the stored bookmark)" if incremental else "full (first run)"
    click.echo(f"  run kind: {kind}")
    click.echo(f"  data: {database} (tables users, orders, events)")
    click.echo("next: flx execution list · flx state get demo · flx demo (again, incremental)")
    settings = cli.settings()
    click.echo(
        "dashboard: `flx user create you@example.com --admin` (once), then `flx serve` and "
        f"open http://{settings.api_host}:{settings.api_port}/ to log in"
    )

"""`flx state`: list, get, set, clear, history, restore, export and import Singer state."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import Column, json_option, print_json, print_table, say, wide_option

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


def _send(cli: CliContext, make: Any) -> Any:
    async def go(runtime: Runtime) -> Any:
        from flx_core.domain import Principal

        return unwrap(await runtime.app.execute(make(), principal=Principal.system()))

    return cli.run(go)


def _version_row(v: Any) -> tuple[Any, ...]:
    return (
        v.version,
        v.created_at,
        "partial" if v.partial else "complete",
        v.execution_id or "",
        v.note,
    )


VERSION_COLUMNS: list[str | Column] = [
    Column("version", "fixed"),
    Column("created", "time"),
    Column("kind", "fixed"),
    Column("execution", "id"),
    "note",
]


@click.group()
def state() -> None:
    """Incremental state: list, get, set, clear, history, restore, export, import.

    A pipeline's state id is its name unless the pipeline sets another.
    """


@state.command("list")
@wide_option
@json_option
@pass_cli
def list_states(cli: CliContext, wide: bool) -> None:
    """Every state id with its current version."""
    from flx_meltano import ListStates

    versions = _send(cli, ListStates)
    if cli.json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    print_table(
        "States",
        [Column("state id", "fixed"), *VERSION_COLUMNS],
        [(v.state_id, *_version_row(v)) for v in versions],
        wide=wide,
    )


@state.command("get")
@click.argument("state_id")
@json_option
@pass_cli
def get(cli: CliContext, state_id: str) -> None:
    """Print the current state of STATE_ID as JSON."""
    from flx_meltano import GetState

    found = _send(cli, lambda: GetState(state_id=state_id))
    print_json(found.model_dump(mode="json") if cli.json else found.value)


@state.command("set")
@click.argument("state_id")
@click.argument("value", required=False)
@click.option(
    "--file",
    "file",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Read the JSON state from a file.",
)
@click.option("--merge", is_flag=True, help="Lay the value over the current state.")
@json_option
@pass_cli
def set_(cli: CliContext, state_id: str, value: str | None, file: Path | None, merge: bool) -> None:
    """Store VALUE (a JSON object) as a new version of STATE_ID."""
    from flx_meltano import SetState

    raw = file.read_text(encoding="utf-8") if file else value
    if raw is None:
        fail("give the state as VALUE or --file", 2)
    try:
        parsed = json.loads(raw)
    except ValueError as exc:
        fail(f"the state is not valid JSON: {exc}", 2)
    if not isinstance(parsed, dict):
        fail("the state must be a JSON object", 2)
    saved = _send(cli, lambda: SetState(state_id=state_id, value=parsed, merge=merge))
    print_json(saved.model_dump(mode="json")) if cli.json else say(
        f"state {state_id} is at version {saved.version}"
    )


@state.command("clear")
@click.argument("state_id")
@json_option
@pass_cli
def clear(cli: CliContext, state_id: str) -> None:
    """Empty STATE_ID (the next run extracts everything); history keeps the old versions."""
    from flx_meltano import ClearState

    _send(cli, lambda: ClearState(state_id=state_id))
    if cli.json:
        print_json({"cleared": state_id})
        return
    say(f"state {state_id} cleared (restore an older version with `flx state restore`)")


@state.command("history")
@click.argument("state_id")
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@wide_option
@json_option
@pass_cli
def history(cli: CliContext, state_id: str, limit: int, wide: bool) -> None:
    """Versions of STATE_ID, newest first."""
    from flx_meltano import StateHistory

    versions = _send(cli, lambda: StateHistory(state_id=state_id, limit=limit))
    if cli.json:
        print_json([v.model_dump(mode="json") for v in versions])
        return
    print_table(
        f"History of {state_id}",
        VERSION_COLUMNS,
        [_version_row(v) for v in versions],
        wide=wide,
    )


@state.command("restore")
@click.argument("state_id")
@click.argument("version", type=click.IntRange(min=1))
@json_option
@pass_cli
def restore(cli: CliContext, state_id: str, version: int) -> None:
    """Make VERSION of STATE_ID current again (as a new version)."""
    from flx_meltano import RestoreState

    saved = _send(cli, lambda: RestoreState(state_id=state_id, version=version))
    print_json(saved.model_dump(mode="json")) if cli.json else say(
        f"state {state_id} restored from version {version} (now version {saved.version})"
    )


@state.command("export")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--state-id", "state_ids", multiple=True, help="Only these ids (default: all).")
@json_option
@pass_cli
def export(cli: CliContext, file: Path, state_ids: tuple[str, ...]) -> None:
    """Write the current states to FILE (JSON), for backup or another FLX."""
    from flx_meltano import ExportStates

    data = _send(cli, lambda: ExportStates(state_ids=list(state_ids)))
    file.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if cli.json:
        print_json({"file": str(file), "state_ids": sorted(data["states"])})
        return
    say(f"exported {len(data['states'])} state(s) to {file}")


@state.command("import")
@click.argument("file", type=click.Path(path_type=Path, dir_okay=False, exists=True))
@json_option
@pass_cli
def import_(cli: CliContext, file: Path) -> None:
    """Load states from FILE (written by `flx state export`); each becomes a new version."""
    from flx_meltano import ImportStates

    try:
        data = json.loads(file.read_text(encoding="utf-8"))
    except ValueError as exc:
        fail(f"{file} is not valid JSON: {exc}", 2)
    states = data.get("states") if isinstance(data, dict) else None
    if not isinstance(states, dict) or not all(isinstance(v, dict) for v in states.values()):
        fail(f'{file} is not a state export: expected {{"states": {{id: object}}}}', 2)
    saved = _send(cli, lambda: ImportStates(states=states))
    if cli.json:
        print_json([v.model_dump(mode="json") for v in saved])
        return
    say(f"imported {len(saved)} state(s): " + ", ".join(s.state_id for s in saved))

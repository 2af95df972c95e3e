"""Printing results: rich tables for people, JSON for machines (`--json`)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

import click

from flx_cli.context import cli_context

F = TypeVar("F", bound=Callable[..., Any])


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path | set | frozenset):
        return sorted(value) if not isinstance(value, Path) else str(value)
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return str(value)


def print_json(data: Any) -> None:
    click.echo(json.dumps(data, default=_default, indent=2, sort_keys=False))


#: Characters of an id in tables and messages: enough to be unique and to be typed back
#: (commands accept any unique prefix of 6 or more).
SHORT_ID = 12
#: The narrowest a cut column gets (with its ellipsis).
MIN_CUT_WIDTH = 8
_GAP = 2


@dataclass(frozen=True)
class Column:
    """A table column and how it behaves when the terminal is narrow.

    ``kind``: ``text`` (cut with an ellipsis), ``id`` (shortened to SHORT_ID characters,
    never cut), ``time`` (``YYYY-MM-DD HH:MM`` local time, never split), ``fixed`` (never
    cut: statuses, counts). A ``wide`` column shows only with ``--wide``. With ``--wide``
    ids and times are whole and nothing is cut.
    """

    header: str
    kind: str = "text"
    wide: bool = False


def short_id(value: Any) -> str:
    return "" if value is None else str(value)[:SHORT_ID]


def when(value: datetime | None, *, wide: bool = False) -> str:
    """A timestamp for a table: compact local time, or the full ISO form with ``wide``."""
    if value is None:
        return ""
    if wide:
        return value.isoformat()
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def _cell(value: Any, column: Column, wide: bool) -> str:
    if value is None:
        return ""
    if column.kind == "time" and isinstance(value, datetime):
        return when(value, wide=wide)
    text = " ".join(str(value).split()) if column.kind == "text" else str(value)
    return short_id(text) if column.kind == "id" and not wide else text


def _fit(columns: list[Column], natural: list[int], available: int) -> list[int]:
    """Widths that fit ``available`` by cutting the widest text columns first."""
    widths = list(natural)
    excess = sum(widths) + _GAP * (len(widths) - 1) - available
    floors = [
        min(n, max(len(c.header), MIN_CUT_WIDTH)) if c.kind == "text" else n
        for c, n in zip(columns, natural, strict=True)
    ]
    while excess > 0:
        cuttable = [i for i, w in enumerate(widths) if w > floors[i]]
        if not cuttable:
            break
        widest = max(cuttable, key=lambda i: widths[i])
        widths[widest] -= 1
        excess -= 1
    return widths


def print_table(
    title: str | None,
    columns: Sequence[str | Column],
    rows: Sequence[Sequence[Any]],
    *,
    wide: bool = False,
) -> None:
    """A table readable at 80 columns: one line per row, ids never cut, text columns cut
    with an ellipsis when the terminal is narrow; ``wide`` shows everything whole."""
    from rich import box
    from rich.console import Console
    from rich.table import Table

    specs = [c if isinstance(c, Column) else Column(c) for c in columns]
    shown = [i for i, c in enumerate(specs) if wide or not c.wide]
    specs = [specs[i] for i in shown]
    cells = [[_cell(row[i], specs[n], wide) for n, i in enumerate(shown)] for row in rows]
    natural = [max([len(c.header), *(len(r[n]) for r in cells)]) for n, c in enumerate(specs)]
    console = Console(file=sys.stdout, soft_wrap=False)
    widths = natural if wide else _fit(specs, natural, console.width)
    # What cannot be cut (ids, times) runs past a narrow terminal rather than wrapping.
    console.width = max(console.width, sum(widths) + _GAP * (len(widths) - 1))
    table = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        show_edge=False,
        pad_edge=False,
        collapse_padding=True,
        padding=(0, 1),
        header_style="bold",
        title_justify="left",
    )
    for spec, width in zip(specs, widths, strict=True):
        table.add_column(
            spec.header,
            width=width,
            no_wrap=True,
            overflow="ellipsis" if spec.kind == "text" else "fold",
        )
    for row in cells:
        table.add_row(*row)
    with console.capture() as captured:
        console.print(table)
    # Rich pads every line to the table's width; scripts reading the table do not want it.
    sys.stdout.write("".join(line.rstrip() + "\n" for line in captured.get().splitlines()))


def print_mapping(title: str, data: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title, show_header=False, box=None)
    table.add_column("key", style="bold")
    table.add_column("value")
    for key, value in data.items():
        if isinstance(value, dict | list):
            value = json.dumps(value, default=_default)
        table.add_row(key, "" if value is None else str(value))
    Console(file=sys.stdout, soft_wrap=True).print(table)


def say(message: str) -> None:
    """A line for people (stderr when --json so stdout stays machine-readable)."""
    click.echo(message)


def _set_json(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        cli_context(ctx).json = True


def json_option(command: F) -> F:
    """``--json`` after a command: the same as ``flx --json`` before it (sets the CLI
    context's json flag, so ``cli.json`` tells the command either way)."""
    option = click.option(
        "--json",
        is_flag=True,
        expose_value=False,
        callback=_set_json,
        help="Machine-readable JSON output.",
    )
    return option(command)


def wide_option(command: F) -> F:
    """``--wide`` on a listing: full ids and timestamps, every column, nothing cut."""
    option = click.option(
        "--wide",
        is_flag=True,
        help="Show everything: full ids and timestamps, every column, nothing cut.",
    )
    return option(command)

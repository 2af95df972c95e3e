"""Options of `flx pipeline create/update` for Meltano's extractor extras: schema overrides,
a catalog file, a state file, the load schema and the select filter."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


def extras_options(*, clearing: bool) -> Any:
    """The options; ``clearing`` adds ``--no-schema`` and ``--no-select-filter`` (update)."""

    def decorate(fn: Any) -> Any:
        options = [
            click.option(
                "--schema",
                "schemas",
                multiple=True,
                metavar="STREAM.PROPERTY=JSON",
                help="JSON schema of a catalog property, e.g. "
                '\'users.score={"type": ["string", "null"]}\' (globs allowed'
                + ("; replaces the overrides)" if clearing else ")"),
            ),
            click.option(
                "--catalog",
                "catalog_path",
                default=None,
                metavar="FILE",
                help="Catalog file the extractor gets instead of a discovered one"
                + (" ('' removes it)." if clearing else "."),
            ),
            click.option(
                "--state-file",
                "state_path",
                default=None,
                metavar="FILE",
                help="State file every run starts from instead of the stored state"
                + (" ('' removes it)." if clearing else "."),
            ),
            click.option(
                "--load-schema",
                default=None,
                metavar="NAME",
                help="Schema the loader writes to: $MELTANO_EXTRACT__LOAD_SCHEMA in its "
                "settings (default: the extractor's namespace)"
                + (" ('' removes it)." if clearing else "."),
            ),
            click.option(
                "--select-filter",
                "select_filters",
                multiple=True,
                metavar="PATTERN",
                help="Stream filter applied after the select rules, e.g. users or '!events'"
                + (" (replaces the filters)." if clearing else "."),
            ),
        ]
        if clearing:
            options += [
                click.option("--no-schema", is_flag=True, help="Remove the schema overrides."),
                click.option("--no-select-filter", is_flag=True, help="Remove the filters."),
            ]
        for option in reversed(options):
            fn = option(fn)
        return fn

    return decorate


def schema_overrides(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``STREAM.PROPERTY=JSON`` pairs grouped by stream pattern."""
    grouped: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        stream, dot, prop = key.strip().rpartition(".")
        if not sep or not dot or not stream or not prop:
            raise click.BadParameter(
                f'{item!r} is not STREAM.PROPERTY=JSON (e.g. users.score={{"type": "string"}})',
                param_hint="--schema",
            )
        try:
            schema = json.loads(raw)
        except ValueError as exc:
            raise click.BadParameter(
                f"{key}: the schema is not JSON ({exc})", param_hint="--schema"
            ) from None
        if not isinstance(schema, dict):
            raise click.BadParameter(
                f"{key}: the schema must be a JSON object", param_hint="--schema"
            )
        grouped.setdefault(stream, {})[prop] = schema
    return grouped


def _path(value: str, base: Path | None = None) -> str | None:
    """An absolute path (from ``base``, else the current directory); '' for none."""
    if not value.strip():
        return None
    return str(((base or Path.cwd()) / Path(value).expanduser()).resolve())


def file_paths(fields: dict[str, Any], file: Path) -> dict[str, Any]:
    """A pipeline file's catalog and state paths, made absolute from the file's folder."""
    for name in ("catalog_path", "state_path"):
        if isinstance(fields.get(name), str):
            fields[name] = _path(fields[name], file.parent.resolve())
    return fields


def extras_fields(
    schemas: tuple[str, ...] = (),
    catalog_path: str | None = None,
    state_path: str | None = None,
    load_schema: str | None = None,
    select_filters: tuple[str, ...] = (),
    no_schema: bool = False,
    no_select_filter: bool = False,
) -> dict[str, Any]:
    """The pipeline fields the options give (those not given are left out)."""
    fields: dict[str, Any] = {}
    if schemas or no_schema:
        fields["schema_overrides"] = schema_overrides(schemas)
    if select_filters or no_select_filter:
        fields["select_filter"] = list(select_filters)
    for name, value in (("catalog_path", catalog_path), ("state_path", state_path)):
        if value is not None:
            fields[name] = _path(value)
    if load_schema is not None:
        fields["load_schema"] = load_schema.strip() or None
    return fields

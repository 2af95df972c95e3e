"""`flx plugin streams`: a tap's streams and properties, and what a pipeline selects of them
(added to the `flx plugin` group)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, pass_cli, unwrap
from flx_cli.output import json_option, print_json

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime

#: Width of the widest label, ``automatic``.
LABEL_WIDTH = 9


def fetch_streams(cli: CliContext, name: str, **fields: Any) -> Any:
    """The ``StreamsListing`` of extractor ``name`` (fields of ``ListStreams``)."""

    async def go(runtime: Runtime) -> Any:
        from flx_core.domain import Principal
        from flx_meltano import ListStreams

        query = ListStreams(plugin=name, **fields)
        return unwrap(await runtime.app.execute(query, principal=Principal.system()))

    return cli.run(go)


def listing_lines(listing: Any) -> list[str]:
    """``[selected ] users``, then ``[automatic] users.id``... for every stream, as
    ``meltano select --list --all`` prints them."""
    lines = []
    for stream in listing.streams:
        label = "selected" if stream.selected else "excluded"
        replication = ""
        if stream.replication_method:
            replication = f"  ({stream.replication_method}"
            replication += f" by {stream.replication_key})" if stream.replication_key else ")"
        lines.append(f"[{label:<{LABEL_WIDTH}}] {stream.stream}{replication}")
        for prop in stream.properties:
            lines.append(f"[{prop.label:<{LABEL_WIDTH}}] {stream.stream}.{prop.path}")
    return lines


@click.command("streams")
@click.argument("name")
@click.option(
    "--pipeline",
    "-p",
    default=None,
    help="Show what this pipeline's select rules and metadata pick (its config is used too).",
)
@click.option("--refresh", is_flag=True, help="Run discovery again instead of using the cache.")
@json_option
@pass_cli
def streams(cli: CliContext, name: str, pipeline: str | None, refresh: bool) -> None:
    """List the streams and properties of extractor NAME and whether they are selected.

    Discovery runs as a run does: the same config (the pipeline's, with --pipeline), the same
    cached catalog. Without --pipeline no rule applies, and a pipeline without select rules
    takes every stream. `automatic` properties are always extracted.
    """
    listing = fetch_streams(cli, name, pipeline=pipeline, refresh=refresh)
    if cli.json:
        print_json(listing.model_dump(mode="json"))
        return
    if listing.pipeline is not None:
        rules = ", ".join(listing.select) or "none: every stream"
        click.echo(f"Streams of {listing.plugin} in pipeline {listing.pipeline} (select: {rules})")
    else:
        click.echo(f"Streams of {listing.plugin}")
    for line in listing_lines(listing):
        click.echo(line)
    for message in listing.unmatched:
        click.echo(f"warning: {message}", err=True)
    if not listing.selection_applied:
        click.echo(
            f"warning: {listing.plugin} takes no catalog (neither the catalog nor the "
            "properties capability): runs ignore select rules and metadata",
            err=True,
        )
    if listing.cached:
        click.echo("(cached catalog; --refresh discovers the streams again)", err=True)


def register(group: click.Group) -> None:
    group.add_command(streams)

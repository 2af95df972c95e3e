"""`flx config show`: the effective settings, secrets masked."""

from __future__ import annotations

import click

from flx_cli.context import CliContext, pass_cli
from flx_cli.output import json_option, print_json, print_mapping


@click.group()
def config() -> None:
    """Show the effective settings (secrets masked)."""


@config.command("show")
@json_option
@pass_cli
def show(cli: CliContext) -> None:
    """Print every effective setting; passwords, keys and URL passwords are masked."""
    from flx_core.infrastructure.persistence import database_url

    settings = cli.settings()
    data = settings.masked()
    data["effective_database_url"] = _masked_url(database_url(settings))
    if cli.json:
        print_json(data)
    else:
        print_mapping("FLX settings", data)


def _masked_url(url: str) -> str:
    from flx_core.config import mask_url

    return mask_url(url)

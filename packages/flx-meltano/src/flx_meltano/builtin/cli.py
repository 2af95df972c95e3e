"""The Singer command line: ``--config``, ``--state``, ``--catalog``/``--properties``,
``--discover``."""

from __future__ import annotations

import argparse
from dataclasses import dataclass


@dataclass(frozen=True)
class SingerArgs:
    config: str | None
    state: str | None
    catalog: str | None
    discover: bool


def parse_args(program: str, argv: list[str], *, tap: bool) -> SingerArgs:
    """Parse the flags a Singer tap (``tap=True``) or target accepts; bad flags exit 2."""
    parser = argparse.ArgumentParser(prog=program, description=f"{program} (Singer connector)")
    parser.add_argument("-c", "--config", help="JSON config file")
    if tap:
        parser.add_argument("-s", "--state", help="JSON state file (bookmarks)")
        selection = parser.add_mutually_exclusive_group()
        selection.add_argument("--catalog", help="catalog file with the selected streams")
        selection.add_argument("-p", "--properties", help="same as --catalog (older taps)")
        parser.add_argument("-d", "--discover", action="store_true", help="print the catalog")
    namespace = parser.parse_args(argv)
    return SingerArgs(
        config=namespace.config,
        state=getattr(namespace, "state", None),
        catalog=getattr(namespace, "catalog", None) or getattr(namespace, "properties", None),
        discover=bool(getattr(namespace, "discover", False)),
    )

"""Parsing of CLI values: `key=value` settings, YAML pipeline files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click


def parse_json_value(raw: str) -> Any:
    """JSON when it parses (numbers, booleans, lists, objects), else the string itself:
    for catalog metadata, whose values are JSON (``selected=true``)."""
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def parse_assignments(
    items: tuple[str, ...], what: str = "--config", parse: Callable[[str], Any] | None = None
) -> dict[str, Any]:
    """``KEY=VALUE`` pairs. Setting values stay the text that was typed: the plugin's
    declared kinds convert them (``port=5432`` is an integer only where ``port`` is
    declared one), wherever they are set from."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise click.BadParameter(f"{item!r} is not KEY=VALUE", param_hint=what)
        out[key.strip()] = parse(value) if parse is not None else value
    return out


def plugin_config(items: tuple[str, ...], roles: dict[str, str]) -> dict[str, dict[str, Any]]:
    """``PLUGIN.SETTING=VALUE`` pairs grouped by plugin.

    ``PLUGIN`` is a plugin name or a role (``extractor``, ``loader``) of this pipeline.
    """
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(items).items():
        plugin, dot, setting = key.partition(".")
        if not dot or not setting:
            raise click.BadParameter(
                f"{key!r} must be PLUGIN.SETTING (e.g. extractor.start_date=2024-01-01)",
                param_hint="--config",
            )
        grouped.setdefault(roles.get(plugin, plugin), {})[setting] = value
    return grouped


def load_pipeline_file(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.BadParameter(f"cannot read {path}: {exc.strerror}", param_hint="-f") from None
    except yaml.YAMLError as exc:
        raise click.BadParameter(f"{path} is not valid YAML: {exc}", param_hint="-f") from None
    if not isinstance(data, dict):
        raise click.BadParameter(f"{path} must hold a mapping of pipeline fields", param_hint="-f")
    return data


def stream_metadata(items: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """``STREAM.KEY=VALUE`` pairs grouped by stream pattern (Meltano's ``metadata`` extra)."""
    grouped: dict[str, dict[str, Any]] = {}
    for key, value in parse_assignments(items, "--metadata", parse_json_value).items():
        stream, dot, field = key.rpartition(".")
        if not dot or not stream or not field:
            raise click.BadParameter(
                f"{key!r} must be STREAM.KEY (e.g. public-orders.replication-key=updated_at)",
                param_hint="--metadata",
            )
        grouped.setdefault(stream, {})[field] = value
    return grouped

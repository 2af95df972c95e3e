"""Reading meltano.yml as Meltano does: the main file with its ``include_paths`` merged in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from flx_meltano.meltano_project.model import ProjectError

#: Top-level lists that included files extend, keyed by item name (plugins by type).
_LISTS = ("environments", "jobs", "schedules")
PLUGIN_TYPES = (
    "extractors",
    "loaders",
    "mappers",
    "transformers",
    "transforms",
    "orchestrators",
    "utilities",
    "files",
    "models",
    "dashboards",
)


def project_file(path: Path) -> Path:
    """The meltano.yml of ``path`` (a directory or the file itself)."""
    found = path / "meltano.yml" if path.is_dir() else path
    if not found.is_file():
        raise ProjectError(f"{found}: no such file (give a Meltano project or its meltano.yml)")
    return found


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ProjectError(f"{path}: not valid YAML: {exc}".replace("\n", " ")) from None
    except OSError as exc:
        raise ProjectError(f"{path}: cannot be read: {exc.strerror}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ProjectError(f"{path}: the top level must be a mapping")
    return data


def load_manifest(main: Path) -> dict[str, Any]:
    """The main file, then every file its ``include_paths`` globs name (sorted, as Meltano
    reads them), their plugins, environments, jobs and schedules added to the main ones."""
    data = read_yaml(main)
    root = main.parent
    for pattern in data.get("include_paths") or []:
        for included in sorted(root.glob(str(pattern))):
            _merge_into(data, read_yaml(included), included)
    return data


def _merge_into(data: dict[str, Any], extra: dict[str, Any], source: Path) -> None:
    plugins = data.setdefault("plugins", {}) or {}
    data["plugins"] = plugins
    for kind, items in (extra.get("plugins") or {}).items():
        _extend(plugins, kind, items, source)
    for key in _LISTS:
        _extend(data, key, extra.get(key), source)


def _extend(target: dict[str, Any], key: str, items: Any, source: Path) -> None:
    if not items:
        return
    if not isinstance(items, list):
        raise ProjectError(f"{source}: {key} must be a list")
    existing = target.setdefault(key, []) or []
    names = {i.get("name") for i in existing if isinstance(i, dict)}
    for item in items:
        if isinstance(item, dict) and item.get("name") in names:
            raise ProjectError(f"{source}: {key[:-1]} {item.get('name')!r} is defined twice")
        existing.append(item)
    target[key] = existing

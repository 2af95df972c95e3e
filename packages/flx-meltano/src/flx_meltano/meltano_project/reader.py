"""A Meltano project read as Meltano reads it, for one environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flx_meltano.meltano_project.env_refs import expand, read_dotenv, references
from flx_meltano.meltano_project.loading import load_manifest, project_file
from flx_meltano.meltano_project.model import MeltanoProject, PluginSpec, ProjectError
from flx_meltano.meltano_project.pipelines import PipelineBuilder
from flx_meltano.meltano_project.plugins import IMPORTED, PluginResolver
from flx_meltano.meltano_project.unsupported import (
    unexpanded_references,
    unsupported_extras,
    unsupported_plugins,
    unsupported_project,
)


def _environment(
    manifest: dict[str, Any], wanted: str | None, source: Path
) -> tuple[str | None, dict[str, Any] | None]:
    name = wanted or manifest.get("default_environment")
    if not name:
        return None, None
    for env in manifest.get("environments") or []:
        if isinstance(env, dict) and env.get("name") == name:
            return str(name), env
    raise ProjectError(f"{source}: environment {name!r} is not defined")


def _variables(
    manifest: dict[str, Any], env: dict[str, Any] | None, root: Path, resolve_env: bool
) -> dict[str, str]:
    """Variables references resolve to: the project's and the environment's ``env``
    blocks, and the ``.env`` file when asked (the process environment never)."""
    values = read_dotenv(root / ".env") if resolve_env else {}
    for block in (manifest.get("env"), (env or {}).get("env")):
        values.update({str(k): str(v) for k, v in (block or {}).items()})
    return values


def _state_id_suffix(
    given: str | None,
    env_name: str | None,
    env: dict[str, Any] | None,
    known: Mapping[str, str],
    source: Path,
) -> str:
    """The suffix of the state ids, as ``meltano run`` takes it: ``--state-id-suffix``
    (``MELTANO_RUN_STATE_ID_SUFFIX``), else the environment's ``state_id_suffix`` with its
    references resolved (from the project's variables, its ``.env`` and the environment of
    the import: a state id is fixed when the pipeline is made, so a reference cannot stay)."""
    if given is not None:
        suffix, where = given, "--state-id-suffix"
    else:
        raw = (env or {}).get("state_id_suffix")
        suffix = str(expand(raw, known)) if raw else ""
        where = f"environment {env_name!r}: state_id_suffix"
        missing = sorted(references(suffix))
        if missing:
            raise ProjectError(
                f"{source}: {where} refers to ${missing[0]}, which is not set: set it, or "
                "give the suffix with --state-id-suffix"
            )
    if ":" in suffix:
        raise ProjectError(f"{source}: {where} {suffix!r} contains ':', which Meltano refuses")
    return suffix


def read_project(
    path: str | Path,
    *,
    environment: str | None = None,
    resolve_env: bool = False,
    state_id_suffix: str | None = None,
) -> MeltanoProject:
    """The project at ``path`` (a directory or its meltano.yml) as FLX specs."""
    main = project_file(Path(path))
    root = main.parent.resolve()
    manifest = load_manifest(main)
    env_name, env = _environment(manifest, environment, main)
    variables = _variables(manifest, env, root, resolve_env)
    dotenv = read_dotenv(root / ".env") if resolve_env else {}
    resolver = PluginResolver(manifest, root, env, variables, main, dotenv)
    plugins: dict[str, PluginSpec] = {}
    unsupported = [*unsupported_project(manifest), *unsupported_plugins(manifest)]
    for name in resolver.raw:
        if resolver.kind_of(name) in IMPORTED:
            plugins[name] = resolver.resolve(name)
            unsupported += unexpanded_references(plugins[name])
        unsupported += unsupported_extras(name, resolver.extras_of(name))
    owners = {m: p.name for p in plugins.values() for m in p.mappings}
    known = {**os.environ, **read_dotenv(root / ".env"), **variables}
    suffix = _state_id_suffix(state_id_suffix, env_name, env, known, main)
    builder = PipelineBuilder(main, env_name, suffix, plugins, resolver.kind_of, owners)
    for job in manifest.get("jobs") or []:
        builder.job(job)
    for schedule in manifest.get("schedules") or []:
        builder.schedule(schedule)
    project_id = manifest.get("project_id")
    return MeltanoProject(
        path=str(main.resolve()),
        project_id=str(project_id) if project_id else None,
        environment=env_name,
        plugins=list(plugins.values()),
        pipelines=list(builder.pipelines.values()),
        unsupported=[*unsupported, *builder.unsupported],
    )

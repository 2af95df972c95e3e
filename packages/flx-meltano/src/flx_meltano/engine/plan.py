"""Turning a pipeline and its plugins into the run's RunSpec: commands (each executable
resolved once, to an absolute path), config files, catalog, state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from flx_core.config import FlxSettings
from flx_core.domain import Capability, Pipeline, Plugin, PluginType, ValidationFailed
from flx_meltano.engine.commands import plugin_command
from flx_meltano.engine.paths import catalog_dir
from flx_meltano.plugin_settings import resolve_config
from flx_meltano.runner import (
    PrivateFiles,
    ProcessSpec,
    ProgressCallback,
    RunSpec,
    StateCallback,
)


def _caps(plugin: Plugin) -> set[str]:
    return {c.strip().lower() for c in plugin.capabilities}


@asynccontextmanager
async def planned_run(
    pipeline: Pipeline,
    plugins: list[Plugin],
    settings: FlxSettings,
    environ: Mapping[str, str],
    *,
    state: dict[str, Any] | None,
    refresh_catalog: bool = False,
    log_path: Path | None,
    timeout: float | None,
    on_state: StateCallback,
    on_progress: ProgressCallback,
    warn: Callable[[str], None],
) -> AsyncIterator[RunSpec]:
    """The run's spec, its files in a private 0700 directory removed afterwards.

    Whatever the preparation notices that the user should know (select rules that cannot
    be applied, a capability missing) goes to ``warn``; discovery's stderr goes to the
    run's log.
    """
    home = settings.home_path
    extractor = plugins[0]
    loader = plugins[-1]
    if extractor.plugin_type is not PluginType.EXTRACTOR or loader.plugin_type is not (
        PluginType.LOADER
    ):
        raise ValidationFailed("a pipeline runs an extractor first and a loader last")
    cwd = home
    cwd.mkdir(parents=True, exist_ok=True)
    with PrivateFiles(prefix=f"flx-{pipeline.name}-") as files:
        specs: list[ProcessSpec] = []
        catalog: dict[str, Any] | None = None
        for index, plugin in enumerate(plugins):
            command = plugin_command(plugin, settings.plugins_path)
            config = resolve_config(plugin, pipeline, environ)
            config_path = files.write_json(f"{index}-{plugin.name}.config.json", config)
            argv = [command, "--config", str(config_path)]
            if index == 0:
                caps = _caps(plugin)
                flag = (
                    "--catalog"
                    if Capability.CATALOG.value in caps
                    else "--properties"
                    if Capability.PROPERTIES.value in caps
                    else None
                )
                if flag is not None:
                    from flx_meltano.catalog import (
                        apply_metadata,
                        apply_selection,
                        catalog_cache_file,
                        discover,
                        unmatched_rules,
                    )

                    discovered = await discover(
                        command,
                        config_path,
                        cache_path=catalog_cache_file(
                            catalog_dir(home), plugin.name, command, config
                        ),
                        refresh=refresh_catalog,
                        name=plugin.name,
                        cwd=cwd,
                        log_path=log_path,
                    )
                    catalog = apply_metadata(
                        apply_selection(discovered, pipeline.select), pipeline.metadata
                    )
                    for message in unmatched_rules(
                        discovered, pipeline.select, pipeline.metadata, tap=plugin.name
                    ):
                        warn(message)
                    catalog_path = files.write_json("catalog.json", catalog)
                    argv += [flag, str(catalog_path)]
                else:
                    ignored = [
                        what
                        for what, given in (
                            ("select rules", pipeline.select),
                            ("stream metadata", pipeline.metadata),
                        )
                        if given
                    ]
                    if ignored:
                        warn(
                            f"{plugin.name} declares neither the catalog nor the properties "
                            f"capability: the pipeline's {' and '.join(ignored)} are not "
                            "applied (the tap extracts what it extracts by default)"
                        )
                if state and Capability.STATE.value not in caps:
                    warn(
                        f"{plugin.name} does not declare the state capability: the stored "
                        "state is not passed, the run extracts everything"
                    )
                if state and Capability.STATE.value in caps:
                    state_path = files.write_json("state.json", state)
                    argv += ["--state", str(state_path)]
            specs.append(ProcessSpec(name=plugin.name, argv=tuple(argv)))
        yield RunSpec(
            tap=specs[0],
            mappers=tuple(specs[1:-1]),
            target=specs[-1],
            cwd=cwd,
            log_path=log_path,
            timeout=timeout,
            grace_period=settings.termination_grace_seconds,
            on_state=on_state,
            on_progress=on_progress,
        )

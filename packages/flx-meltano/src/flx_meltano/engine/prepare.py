"""Turning a pipeline and its plugins into a RunSpec: commands, config files, catalog, state."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flx_core.config import FlxSettings
from flx_core.domain import Capability, Pipeline, Plugin, PluginType, ValidationFailed
from flx_meltano.engine.commands import plugin_command
from flx_meltano.plugin_settings import resolve_config
from flx_meltano.runner import PrivateFiles, ProcessSpec, RunSpec


@dataclass
class PreparedRun:
    tap: ProcessSpec
    mappers: list[ProcessSpec]
    target: ProcessSpec
    cwd: Path
    catalog: dict[str, Any] | None = None
    notes: list[str] = field(default_factory=list)

    def spec(
        self,
        *,
        log_path: Path,
        timeout: float | None,
        grace: float,
        on_state: Any,
        on_progress: Any,
    ) -> RunSpec:
        return RunSpec(
            tap=self.tap,
            mappers=tuple(self.mappers),
            target=self.target,
            cwd=self.cwd,
            log_path=log_path,
            timeout=timeout,
            grace_period=grace,
            on_state=on_state,
            on_progress=on_progress,
        )


def _caps(plugin: Plugin) -> set[str]:
    return {c.strip().lower() for c in plugin.capabilities}


@asynccontextmanager
async def prepare_run(
    pipeline: Pipeline,
    plugins: list[Plugin],
    settings: FlxSettings,
    environ: Mapping[str, str],
    *,
    state: dict[str, Any] | None,
    refresh_catalog: bool = False,
) -> AsyncIterator[PreparedRun]:
    """Everything the processes need, in a private 0700 directory removed afterwards."""
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
        notes: list[str] = []
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
                    )

                    discovered = await discover(
                        command,
                        config_path,
                        cache_path=catalog_cache_file(
                            home / "catalogs", plugin.name, command, config
                        ),
                        refresh=refresh_catalog,
                        name=plugin.name,
                        cwd=cwd,
                    )
                    catalog = apply_metadata(
                        apply_selection(discovered, pipeline.select), pipeline.metadata
                    )
                    catalog_path = files.write_json("catalog.json", catalog)
                    argv += [flag, str(catalog_path)]
                elif pipeline.select:
                    notes.append(
                        f"{plugin.name} declares no catalog capability: select "
                        "rules are not applied"
                    )
                if state and Capability.STATE.value in caps:
                    state_path = files.write_json("state.json", state)
                    argv += ["--state", str(state_path)]
            specs.append(ProcessSpec(name=plugin.name, argv=tuple(argv)))
        yield PreparedRun(
            tap=specs[0],
            mappers=specs[1:-1],
            target=specs[-1],
            cwd=cwd,
            catalog=catalog,
            notes=notes,
        )

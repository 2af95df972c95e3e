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
from flx_meltano.engine.load_schema import (
    LOAD_SCHEMA_VARIABLE,
    expand_load_schema,
    load_schema_of,
    references_load_schema,
)
from flx_meltano.engine.paths import catalog_dir
from flx_meltano.plugin_settings import resolve_config
from flx_meltano.runner import (
    PrivateFiles,
    ProcessSpec,
    ProgressCallback,
    RunSpec,
    StateCallback,
)
from flx_observability.tracing import span

Warn = Callable[[str], None]


def _caps(plugin: Plugin) -> set[str]:
    return {c.strip().lower() for c in plugin.capabilities}


def _given(*fields: tuple[str, Any]) -> list[str]:
    return [what for what, value in fields if value]


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
    warn: Warn,
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
        for index, plugin in enumerate(plugins):
            command = plugin_command(plugin, settings.plugins_path)
            config = resolve_config(plugin, pipeline, environ)
            env: dict[str, str] = {}
            if plugin is loader:
                config, env = _loader_config(pipeline, extractor, loader, config, warn)
            config_path = files.write_json(f"{index}-{plugin.name}.config.json", config)
            argv = [command, "--config", str(config_path)]
            if index == 0:
                tap = _Tap(pipeline, plugin, command, config, config_path, files, warn)
                argv += await tap.catalog_args(home, refresh_catalog, log_path)
                argv += tap.state_args(state)
            specs.append(ProcessSpec(name=plugin.name, argv=tuple(argv), env=env))
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


def _loader_config(
    pipeline: Pipeline, extractor: Plugin, loader: Plugin, config: dict[str, Any], warn: Warn
) -> tuple[dict[str, Any], dict[str, str]]:
    """The loader's config with ``$MELTANO_EXTRACT__LOAD_SCHEMA`` replaced, and the
    variable for its environment (see ``load_schema``)."""
    schema = load_schema_of(pipeline, extractor)
    if pipeline.load_schema and not references_load_schema(config):
        warn(
            f"no setting of {loader.name} refers to ${LOAD_SCHEMA_VARIABLE}: the load "
            f"schema {schema!r} reaches it only as that environment variable (give it "
            f"with --config {loader.name}.default_target_schema='${LOAD_SCHEMA_VARIABLE}', "
            "or the setting the loader has for its schema)"
        )
    return expand_load_schema(config, schema), {LOAD_SCHEMA_VARIABLE: schema}


class _Tap:
    """The extractor's arguments: catalog (discovered or a file, with the rules applied)
    and state, by what the tap declares it takes."""

    def __init__(
        self,
        pipeline: Pipeline,
        plugin: Plugin,
        command: str,
        config: dict[str, Any],
        config_path: Path,
        files: PrivateFiles,
        warn: Warn,
    ) -> None:
        self.pipeline, self.plugin, self.command = pipeline, plugin, command
        self.config, self.config_path, self.files, self.warn = config, config_path, files, warn
        self.caps = _caps(plugin)

    async def catalog_args(
        self, home: Path, refresh_catalog: bool, log_path: Path | None
    ) -> list[str]:
        p = self.pipeline
        flag = (
            "--catalog"
            if Capability.CATALOG.value in self.caps
            else "--properties"
            if Capability.PROPERTIES.value in self.caps
            else None
        )
        if flag is None:
            ignored = _given(
                ("select rules", p.select),
                ("stream metadata", p.metadata),
                ("schema overrides", p.schema_overrides),
                ("select filter", p.select_filter),
                ("catalog file", p.catalog_path),
            )
            if ignored:
                self.warn(
                    f"{self.plugin.name} declares neither the catalog nor the properties "
                    f"capability: the pipeline's {' and '.join(ignored)} are not "
                    "applied (the tap extracts what it extracts by default)"
                )
            return []
        if p.catalog_path:
            catalog = self._provided_catalog()
        else:
            with span("discovery", **{"flx.plugin": self.plugin.name}) as current:
                catalog = await self._discovered_catalog(home, refresh_catalog, log_path)
                current.set_attribute("flx.streams", len(catalog.get("streams") or ()))
        return [flag, str(self.files.write_json("catalog.json", catalog))]

    def _provided_catalog(self) -> dict[str, Any]:
        """The pipeline's catalog file, used as it is but for the select filter (Meltano
        applies neither select rules nor metadata nor schema overrides to it)."""
        from flx_meltano.catalog import read_catalog_file, run_catalog

        p = self.pipeline
        ignored = _given(
            ("select rules", p.select),
            ("stream metadata", p.metadata),
            ("schema overrides", p.schema_overrides),
        )
        if ignored:
            self.warn(
                f"the pipeline gives {self.plugin.name} the catalog file {p.catalog_path}, "
                f"used as it is: its {' and '.join(ignored)} are not applied (as in Meltano; "
                "the select filter is)"
            )
        provided = read_catalog_file(str(p.catalog_path))
        return run_catalog(provided, select_filter=p.select_filter, provided=True)

    async def _discovered_catalog(
        self, home: Path, refresh_catalog: bool, log_path: Path | None
    ) -> dict[str, Any]:
        from flx_meltano.catalog import (
            apply_schema,
            catalog_cache_file,
            discover,
            run_catalog,
            unmatched_rules,
        )

        p = self.pipeline
        discovered = await discover(
            self.command,
            self.config_path,
            cache_path=catalog_cache_file(
                catalog_dir(home), self.plugin.name, self.command, self.config
            ),
            refresh=refresh_catalog,
            name=self.plugin.name,
            cwd=home,
            log_path=log_path,
        )
        # Rules may name what the overrides add: they are checked against the result.
        shaped = apply_schema(discovered, p.schema_overrides)
        for message in unmatched_rules(shaped, p.select, p.metadata, tap=self.plugin.name):
            self.warn(message)
        return run_catalog(
            shaped, select=p.select, metadata=p.metadata, select_filter=p.select_filter
        )

    def state_args(self, state: dict[str, Any] | None) -> list[str]:
        if not state:
            return []
        if Capability.STATE.value not in self.caps:
            self.warn(
                f"{self.plugin.name} does not declare the state capability: the stored "
                "state is not passed, the run extracts everything"
            )
            return []
        return ["--state", str(self.files.write_json("state.json", state))]

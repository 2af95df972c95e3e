"""Jobs and schedules as pipelines: each task of a job (``tap [mapping...] target``) is one
pipeline, named after its job; a schedule gives its job's pipelines their cron."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from flx_meltano.meltano_project.env_refs import references
from flx_meltano.meltano_project.model import PipelineSpec, PluginSpec, ProjectError, Unsupported

#: Cron aliases FLX takes as they are.
_RUNNABLE = frozenset({"extractors", "mappers", "loaders"})
ALIASES = frozenset({"@hourly", "@daily", "@weekly", "@monthly", "@yearly", "@annually"})


def state_id(environment: str | None, extractor: str, loader: str, suffix: str = "") -> str:
    """The id ``meltano run`` keeps the state of ``extractor`` to ``loader`` under
    (``<environment>:<extractor>-to-<loader>[:<suffix>]``, the suffix being the
    environment's ``state_id_suffix``), so that FLX runs go on from where Meltano's
    stopped. Mappers in between do not change it."""
    parts = [environment or "", f"{extractor}-to-{loader}", suffix]
    return ":".join(p for p in parts if p)


class PipelineBuilder:
    def __init__(
        self,
        source: Path,
        environment: str | None,
        suffix: str,
        plugins: Mapping[str, PluginSpec],
        kind_of: Callable[[str], str | None],
        mapping_owner: Mapping[str, str],
    ) -> None:
        self.source = source
        self.environment = environment
        self.suffix = suffix
        self.plugins = plugins
        self.kind_of = kind_of
        self.mapping_owner = mapping_owner
        self.pipelines: dict[str, PipelineSpec] = {}
        self.by_job: dict[str, list[str]] = {}
        self.unsupported: list[Unsupported] = []

    def task(self, job: str, name: str, task: str) -> None:
        blocks = task.split()
        for block in blocks:
            plugin = block.split(":")[0]
            if self.kind_of(plugin) is None and plugin not in self.mapping_owner:
                raise ProjectError(
                    f"{self.source}: job {job!r} runs {plugin!r}, which the project does not define"
                )
        kinds = [self.kind_of(b.split(":")[0]) or "mappers" for b in blocks]
        if (
            len(blocks) < 2
            or kinds[0] != "extractors"
            or kinds[-1] != "loaders"
            or any(k != "mappers" for k in kinds[1:-1])
        ):
            others = [b for b, k in zip(blocks, kinds, strict=True) if k not in _RUNNABLE]
            self.unsupported.append(
                Unsupported(
                    kind="task",
                    name=job,
                    reason=f"task {task!r} runs {', '.join(others) or 'plugins in another order'}"
                    "; an FLX pipeline runs an extractor, mappers and a loader",
                )
            )
            return
        extractor, loader, middle = blocks[0], blocks[-1], blocks[1:-1]
        mappers: list[str] = []
        config: dict[str, dict[str, Any]] = {}
        for block in middle:
            owner = self.mapping_owner.get(block, block)
            mappers.append(owner)
            mapping = self.plugins[owner].mappings.get(block) if owner in self.plugins else None
            if mapping is not None:
                config[owner] = mapping
        tap = self.plugins[extractor]
        self.pipelines[name] = PipelineSpec(
            name=name,
            source=f"job {job}",
            extractor=extractor,
            loader=loader,
            mappers=mappers,
            config=config,
            select=tap.select,
            metadata=tap.metadata,
            state_id=state_id(self.environment, extractor, loader, self.suffix),
            schema_overrides=tap.schema_overrides,
            # A value still holding a $VAR is listed as not imported, and left out.
            catalog_path=None if references(tap.catalog) else tap.catalog,
            state_path=None if references(tap.state) else tap.state,
            load_schema=None if references(tap.load_schema) else tap.load_schema,
            select_filter=tap.select_filter,
        )
        self.by_job.setdefault(job, []).append(name)

    def job(self, raw: Mapping[str, Any]) -> None:
        job = str(raw.get("name") or "")
        if not job:
            raise ProjectError(f"{self.source}: a job has no name")
        tasks = raw.get("tasks") or []
        tasks = [tasks] if isinstance(tasks, str) else tasks
        flat = [" ".join(t) if isinstance(t, list) else str(t) for t in tasks]
        for i, task in enumerate(flat):
            self.task(job, job if len(flat) == 1 else f"{job}-{i + 1}", task)

    def schedule(self, raw: Mapping[str, Any]) -> None:
        name = str(raw.get("name") or "")
        if raw.get("env"):
            self.unsupported.append(
                Unsupported(
                    kind="schedule",
                    name=name,
                    reason="variables set for the schedule's runs are not passed by FLX",
                )
            )
        interval = raw.get("interval")
        cron = str(interval).strip() if interval else ""
        if not cron or (cron.startswith("@") and cron.lower() not in ALIASES):
            # The job's pipelines are still imported, run by hand (or by another schedule).
            self.unsupported.append(
                Unsupported(
                    kind="schedule",
                    name=name,
                    reason=f"interval {cron or 'none'!r} is not a cron schedule FLX fires",
                )
            )
            cron = ""
        if raw.get("job"):
            targets = self.by_job.get(str(raw["job"]))
            if targets is None:
                raise ProjectError(
                    f"{self.source}: schedule {name!r} runs job {raw['job']!r}, "
                    "which the project does not define"
                )
        else:
            targets = self._elt_schedule(name, raw)
        for target in targets if cron else []:
            current = self.pipelines[target]
            if current.schedule:
                self.unsupported.append(
                    Unsupported(
                        kind="schedule",
                        name=name,
                        reason=f"pipeline {target!r} already runs on schedule "
                        f"{current.schedule!r}; FLX gives a pipeline one schedule",
                    )
                )
                continue
            self.pipelines[target] = current.model_copy(update={"schedule": cron})

    def _elt_schedule(self, name: str, raw: Mapping[str, Any]) -> list[str]:
        """A ``meltano elt`` schedule (extractor, loader, transform): one pipeline."""
        if raw.get("transform") not in (None, "skip"):
            self.unsupported.append(
                Unsupported(
                    kind="schedule",
                    name=name,
                    reason=f"transform: {raw['transform']} runs dbt, which FLX does not run",
                )
            )
        self.task(name, name, f"{raw.get('extractor', '')} {raw.get('loader', '')}")
        return self.by_job.get(name, [])

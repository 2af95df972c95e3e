"""The FLX pipeline engine: Singer runs, connectors, state.

The public names are imported on first use, so that loading a light submodule (the
migrations, the built-in connectors) does not pull in the whole engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "CancelExecution": "flx_meltano.application.runs",
    "RunPipeline": "flx_meltano.application.runs",
    "ReapDeadExecutions": "flx_meltano.application.runs",
    "RetryExecution": "flx_meltano.application.runs",
    "GetPluginConfig": "flx_meltano.application.plugins",
    "GetPipelineKpis": "flx_meltano.application.kpis",
    "PipelineKpi": "flx_meltano.application.kpis",
    "DailyRecords": "flx_meltano.application.kpis",
    "KpiReport": "flx_meltano.application.kpis",
    "ReadBusinessMetrics": "flx_meltano.application.metrics",
    "ApplyMeltanoImport": "flx_meltano.application.meltano_import",
    "PlanMeltanoImport": "flx_meltano.application.meltano_import",
    "ImportPlan": "flx_meltano.meltano_project",
    "MeltanoProject": "flx_meltano.meltano_project",
    "ProjectError": "flx_meltano.meltano_project",
    "Current": "flx_meltano.meltano_project",
    "plan_import": "flx_meltano.meltano_project",
    "read_project": "flx_meltano.meltano_project",
    "read_states": "flx_meltano.meltano_project",
    "InstallPlugins": "flx_meltano.application.plugins",
    "GetInstallJob": "flx_meltano.application.install_jobs",
    "RequestPluginInstall": "flx_meltano.application.install_jobs",
    "RunInstallJob": "flx_meltano.application.install_jobs",
    "InstallJob": "flx_meltano.install_jobs",
    "InstallStatus": "flx_meltano.install_jobs",
    "PluginInstallResult": "flx_meltano.install_jobs",
    "RegisterBuiltinPlugins": "flx_meltano.application.plugins",
    "builtin_plugins": "flx_meltano.application.plugins",
    "ClearState": "flx_meltano.application.state",
    "ExportStates": "flx_meltano.application.state",
    "GetState": "flx_meltano.application.state",
    "ImportStates": "flx_meltano.application.state",
    "ListStates": "flx_meltano.application.state",
    "RestoreState": "flx_meltano.application.state",
    "SetState": "flx_meltano.application.state",
    "StateHistory": "flx_meltano.application.state",
    "ListStreams": "flx_meltano.application.streams",
    "ValidatePipeline": "flx_meltano.application.validation",
    "PipelineValidation": "flx_meltano.application.validation",
    "FireSchedule": "flx_meltano.application.schedules",
    "ListSchedules": "flx_meltano.application.schedules",
    "ScheduleView": "flx_meltano.application.schedules",
    "AlreadyFired": "flx_meltano.scheduling.repository",
    "ScheduleFire": "flx_meltano.scheduling.repository",
    "Scheduler": "flx_meltano.scheduling.loop",
    "StreamsListing": "flx_meltano.application.streams",
    "ExecutionLog": "flx_meltano.application.logs",
    "ReadExecutionLog": "flx_meltano.application.logs",
    "LocalExecutor": "flx_meltano.engine.executor",
    "RunObserver": "flx_meltano.engine.observer",
    "AlreadyRunning": "flx_meltano.locks",
    "merge_states": "flx_meltano.state",
    "DatabaseStateStore": "flx_meltano.state",
    "FileStateStore": "flx_meltano.state",
    "DatabaseLogStore": "flx_meltano.logs",
    "FileLogStore": "flx_meltano.logs",
    "LogShipper": "flx_meltano.logs",
    "log_store": "flx_meltano.logs",
    "scheduler_alive": "flx_meltano.liveness",
    "workers_alive": "flx_meltano.liveness",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'flx_meltano' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


if TYPE_CHECKING:
    from flx_meltano.application.install_jobs import (
        GetInstallJob as GetInstallJob,
        RequestPluginInstall as RequestPluginInstall,
        RunInstallJob as RunInstallJob,
    )
    from flx_meltano.application.kpis import (
        DailyRecords as DailyRecords,
        GetPipelineKpis as GetPipelineKpis,
        KpiReport as KpiReport,
        PipelineKpi as PipelineKpi,
    )
    from flx_meltano.application.logs import (
        ExecutionLog as ExecutionLog,
        ReadExecutionLog as ReadExecutionLog,
    )
    from flx_meltano.application.meltano_import import (
        ApplyMeltanoImport as ApplyMeltanoImport,
        PlanMeltanoImport as PlanMeltanoImport,
    )
    from flx_meltano.application.metrics import ReadBusinessMetrics as ReadBusinessMetrics
    from flx_meltano.application.plugins import (
        GetPluginConfig as GetPluginConfig,
        InstallPlugins as InstallPlugins,
        RegisterBuiltinPlugins as RegisterBuiltinPlugins,
        builtin_plugins as builtin_plugins,
    )
    from flx_meltano.application.runs import (
        CancelExecution as CancelExecution,
        ReapDeadExecutions as ReapDeadExecutions,
        RetryExecution as RetryExecution,
        RunPipeline as RunPipeline,
    )
    from flx_meltano.application.schedules import (
        FireSchedule as FireSchedule,
        ListSchedules as ListSchedules,
        ScheduleView as ScheduleView,
    )
    from flx_meltano.application.state import (
        ClearState as ClearState,
        ExportStates as ExportStates,
        GetState as GetState,
        ImportStates as ImportStates,
        ListStates as ListStates,
        RestoreState as RestoreState,
        SetState as SetState,
        StateHistory as StateHistory,
    )
    from flx_meltano.application.streams import (
        ListStreams as ListStreams,
        StreamsListing as StreamsListing,
    )
    from flx_meltano.application.validation import (
        PipelineValidation as PipelineValidation,
        ValidatePipeline as ValidatePipeline,
    )
    from flx_meltano.engine.executor import LocalExecutor as LocalExecutor
    from flx_meltano.engine.observer import RunObserver as RunObserver
    from flx_meltano.install_jobs import (
        InstallJob as InstallJob,
        InstallStatus as InstallStatus,
        PluginInstallResult as PluginInstallResult,
    )
    from flx_meltano.liveness import (
        scheduler_alive as scheduler_alive,
        workers_alive as workers_alive,
    )
    from flx_meltano.locks import AlreadyRunning as AlreadyRunning
    from flx_meltano.logs import (
        DatabaseLogStore as DatabaseLogStore,
        FileLogStore as FileLogStore,
        LogShipper as LogShipper,
        log_store as log_store,
    )
    from flx_meltano.meltano_project import (
        Current as Current,
        ImportPlan as ImportPlan,
        MeltanoProject as MeltanoProject,
        ProjectError as ProjectError,
        plan_import as plan_import,
        read_project as read_project,
        read_states as read_states,
    )
    from flx_meltano.scheduling.loop import Scheduler as Scheduler
    from flx_meltano.scheduling.repository import (
        AlreadyFired as AlreadyFired,
        ScheduleFire as ScheduleFire,
    )
    from flx_meltano.state import (
        DatabaseStateStore as DatabaseStateStore,
        FileStateStore as FileStateStore,
        merge_states as merge_states,
    )

"""Application layer: buses, modules and the core use cases."""

from flx_core.application import executions as _executions, plugins as _plugins
from flx_core.application.bus import (
    Application as Application,
    CommandBus as CommandBus,
    EventBus as EventBus,
    QueryBus as QueryBus,
    Registration as Registration,
)
from flx_core.application.context import HandlerContext as HandlerContext
from flx_core.application.errors import describe_validation_error as describe_validation_error
from flx_core.application.executions import (
    EventFeed as EventFeed,
    EventFollower as EventFollower,
    GetExecution as GetExecution,
    ListAuditEvents as ListAuditEvents,
    ListExecutions as ListExecutions,
    ReadEventFeed as ReadEventFeed,
    find_execution as find_execution,
    may_read as may_read,
    read_permission as read_permission,
)
from flx_core.application.messages import Command as Command, Message as Message, Query as Query
from flx_core.application.modules import (
    ApplicationModule as ApplicationModule,
    initialization_order as initialization_order,
)
from flx_core.application.pipelines import (
    CreatePipeline as CreatePipeline,
    DeletePipeline as DeletePipeline,
    GetPipeline as GetPipeline,
    ListPipelines as ListPipelines,
    UpdatePipeline as UpdatePipeline,
    core_module as core_module,
    load_pipeline as load_pipeline,
)
from flx_core.application.plugins import (
    AddPlugin as AddPlugin,
    GetPlugin as GetPlugin,
    ListPlugins as ListPlugins,
    RemovePlugin as RemovePlugin,
    SetPluginSetting as SetPluginSetting,
    TypedPipelineConfig as TypedPipelineConfig,
    UnsetPluginSetting as UnsetPluginSetting,
    UpdatePlugin as UpdatePlugin,
    load_plugin as load_plugin,
)
from flx_core.application.wiring import ProcessKind as ProcessKind, Wiring as Wiring

del _executions, _plugins

"""The domain model of FLX: no framework, only Pydantic and the business rules."""

from flx_core.domain.base import (
    DomainId as DomainId,
    ExecutionId as ExecutionId,
    PipelineId as PipelineId,
    PluginId as PluginId,
    UserId as UserId,
    new_id as new_id,
)
from flx_core.domain.errors import (
    AlreadyExists as AlreadyExists,
    ConcurrencyConflict as ConcurrencyConflict,
    DomainError as DomainError,
    InvalidTransition as InvalidTransition,
    NotFound as NotFound,
    PermissionDenied as PermissionDenied,
    SecretUnreadable as SecretUnreadable,
    Unauthenticated as Unauthenticated,
    ValidationFailed as ValidationFailed,
)
from flx_core.domain.execution import PipelineExecution as PipelineExecution
from flx_core.domain.pipeline import Pipeline as Pipeline
from flx_core.domain.plugin import Plugin as Plugin
from flx_core.domain.pydantic_base import (
    DomainAggregateRoot as DomainAggregateRoot,
    DomainBaseModel as DomainBaseModel,
    DomainEntity as DomainEntity,
    DomainEvent as DomainEvent,
    DomainValueObject as DomainValueObject,
    ResultError as ResultError,
    ServiceResult as ServiceResult,
    utc_now as utc_now,
)
from flx_core.domain.secrets import (
    MASK as MASK,
    has_inline_secret as has_inline_secret,
    keep_masked as keep_masked,
    looks_secret as looks_secret,
    mask_inline_secrets as mask_inline_secrets,
    mask_settings as mask_settings,
)
from flx_core.domain.security import Permission as Permission, Principal as Principal
from flx_core.domain.value_objects import (
    Capability as Capability,
    CronExpression as CronExpression,
    Duration as Duration,
    ExecutionStatus as ExecutionStatus,
    PipelineName as PipelineName,
    PluginSetting as PluginSetting,
    PluginType as PluginType,
    SettingKind as SettingKind,
)

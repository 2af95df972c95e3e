"""The core business entities, gathered for convenient import."""

from flx_core.domain.execution import PipelineExecution as PipelineExecution
from flx_core.domain.pipeline import Pipeline as Pipeline
from flx_core.domain.plugin import Plugin as Plugin

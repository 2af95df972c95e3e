"""Entry point of the engine's module (group ``flx.modules``): imports every use case."""

from flx_meltano.application import plugins as _plugins, runs as _runs, state as _state
from flx_meltano.application.module import module as module

del _plugins, _runs, _state

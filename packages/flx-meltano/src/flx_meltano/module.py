"""Entry point of the engine's module factory (group ``flx.modules``)."""

from flx_meltano.application.module import build_module as build_module

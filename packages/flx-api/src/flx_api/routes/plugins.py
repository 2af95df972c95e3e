"""``/plugins``: the connectors FLX installs and runs: list, add, get, change, remove, their
settings and effective config, a tap's streams, the built-in connectors, and installs as
background jobs.

Every plugin in a response has its secret settings masked. The install routes come before
``/{name}`` ones so that ``/plugins/install/{job_id}`` is never read as a plugin's route.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response, status
from pydantic import BaseModel, Field, create_model

from flx_api.deps import Bus
from flx_api.problems import problem_responses
from flx_api.views import masked_plugin
from flx_core.application import (
    AddPlugin,
    GetPlugin,
    ListPlugins,
    RemovePlugin,
    SetPluginSetting,
    UnsetPluginSetting,
    UpdatePlugin,
)
from flx_core.domain import Plugin, PluginType
from flx_meltano import (
    GetInstallJob,
    GetPluginConfig,
    InstallJob,
    ListStreams,
    RegisterBuiltinPlugins,
    RequestPluginInstall,
    StreamsListing,
    builtin_plugins,
)

router = APIRouter(
    prefix="/plugins",
    tags=["plugins"],
    responses=problem_responses(401, 403, 404, 422, 429),
)


def _optional(annotation: Any) -> Any:
    return annotation | None


#: The fields a PATCH may change: those of AddPlugin but the name and type, each optional.
PluginPatch: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PluginPatch",
    __doc__="The fields to change; those left out keep their value.",
    **{
        name: (_optional(field.annotation), Field(default=None, description=field.description))
        for name, field in AddPlugin.model_fields.items()
        if name not in ("name", "plugin_type")
    },
)

#: What a trial listing of streams may give instead of the pipeline's own: ListStreams' fields
#: but the plugin (it is in the path).
StreamsTrial: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "StreamsTrial",
    __doc__="A pipeline to list the streams for, and config, select rules or metadata to try "
    "instead of its own.",
    **{
        name: (
            field.annotation,
            Field(
                default=field.get_default(call_default_factory=True),
                description=field.description,
            ),
        )
        for name, field in ListStreams.model_fields.items()
        if name != "plugin"
    },
)


class SettingValue(BaseModel):
    value: Any = Field(description="The value; it takes the kind the plugin declares")
    secret: bool = Field(
        default=False, description="Declare the setting secret: masked in every output"
    )


class EffectiveSetting(BaseModel):
    """One setting of a plugin as runs get it (GetPluginConfig), secrets masked."""

    name: str
    value: Any = None
    source: str | None = Field(
        default=None, description="default, plugin, pipeline or environment; null: no value"
    )
    env: str = Field(description="The environment variable that sets it")
    kind: str | None = None
    secret: bool = False
    declared: bool = False
    required: bool = False
    description: str = ""


def _masked(plugins: list[Plugin]) -> list[Plugin]:
    return [masked_plugin(p) for p in plugins]


@router.get("", response_model=list[Plugin])
async def list_plugins(bus: Bus, plugin_type: PluginType | None = None) -> list[Plugin]:
    return _masked(await bus(ListPlugins(plugin_type=plugin_type)))


@router.post(
    "",
    response_model=Plugin,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def add_plugin(body: AddPlugin, bus: Bus, response: Response) -> Plugin:
    plugin: Plugin = await bus(body)
    response.headers["Location"] = f"/api/v1/plugins/{plugin.name}"
    return masked_plugin(plugin)


@router.post("/builtin", response_model=list[Plugin])
async def register_builtin_plugins(bus: Bus) -> list[Plugin]:
    """Add FLX's own connectors (or point existing records at this installation); the
    built-in plugins as they are now."""
    await bus(RegisterBuiltinPlugins())
    names = {p.name for p in builtin_plugins()}
    return _masked([p for p in await bus(ListPlugins()) if p.name in names])


@router.post(
    "/install",
    response_model=InstallJob,
    status_code=status.HTTP_202_ACCEPTED,
)
async def install_plugins(body: RequestPluginInstall, bus: Bus, response: Response) -> InstallJob:
    """Install plugins into their venvs in the background (every plugin with a pip_url when
    ``names`` is empty). The job is returned at once; follow it at its ``Location``."""
    job: InstallJob = await bus(body)
    response.headers["Location"] = f"/api/v1/plugins/install/{job.id}"
    return job


@router.get("/install/{job_id}", response_model=InstallJob)
async def get_install_job(job_id: str, bus: Bus) -> InstallJob:
    """An install job: queued, running, succeeded or failed, with a result per plugin.

    Any server process answers. The process running a job writes a heartbeat every
    FLX_HEARTBEAT_SECONDS; a job not over whose heartbeat has been silent for
    FLX_HEARTBEAT_TIMEOUT (60 s by default: its server was killed) is reported failed,
    "the server stopped during the install"."""
    job: InstallJob = await bus(GetInstallJob(job_id=job_id))
    return job


@router.get("/{name}", response_model=Plugin)
async def get_plugin(name: str, bus: Bus) -> Plugin:
    return masked_plugin(await bus(GetPlugin(name=name)))


@router.patch("/{name}", response_model=Plugin)
async def update_plugin(
    name: str,
    body: PluginPatch,
    bus: Bus,
) -> Plugin:
    changes = body.model_dump(exclude_unset=True)
    return masked_plugin(await bus(UpdatePlugin(name=name, changes=changes)))


@router.delete("/{name}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_plugin(name: str, bus: Bus) -> Response:
    """Remove a plugin no pipeline uses (422 naming the pipelines that do)."""
    await bus(RemovePlugin(name=name))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put("/{name}/settings/{setting}", response_model=Plugin)
async def set_plugin_setting(name: str, setting: str, body: SettingValue, bus: Bus) -> Plugin:
    """Give a setting a plugin-level value (pipelines using the plugin get it on their next
    run unless they set their own)."""
    message = SetPluginSetting(name=name, setting=setting, value=body.value, secret=body.secret)
    return masked_plugin(await bus(message))


@router.delete("/{name}/settings/{setting}", response_model=Plugin)
async def unset_plugin_setting(name: str, setting: str, bus: Bus) -> Plugin:
    """Drop the plugin-level value of a setting (its declared default applies again)."""
    return masked_plugin(await bus(UnsetPluginSetting(name=name, setting=setting)))


@router.get("/{name}/config", response_model=list[EffectiveSetting])
async def get_plugin_config(
    name: str, bus: Bus, pipeline: str | None = None
) -> list[EffectiveSetting]:
    """The effective settings (in ``pipeline`` when given), lowest precedence first: each
    value with where it comes from, secrets masked."""
    rows = await bus(GetPluginConfig(name=name, pipeline=pipeline))
    return [EffectiveSetting.model_validate(row) for row in rows]


@router.get("/{name}/streams", response_model=StreamsListing, responses=problem_responses(424))
async def list_plugin_streams(
    name: str, bus: Bus, pipeline: str | None = None, refresh: bool = False
) -> StreamsListing:
    """The streams of an extractor's catalog and what ``pipeline`` selects of them
    (discovery runs the tap with the pipeline's config; ``refresh`` runs it again)."""
    query = ListStreams(plugin=name, pipeline=pipeline, refresh=refresh)
    listing: StreamsListing = await bus(query)
    return listing


@router.post("/{name}/streams", response_model=StreamsListing, responses=problem_responses(424))
async def try_plugin_streams(
    name: str,
    body: StreamsTrial,
    bus: Bus,
) -> StreamsListing:
    """As ``GET``, with config, select rules or metadata tried in place of the pipeline's
    (or for a pipeline not created yet)."""
    trial = body.model_dump(exclude_unset=True)
    listing: StreamsListing = await bus(ListStreams(plugin=name, **trial))
    return listing

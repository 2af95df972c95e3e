"""``/pipelines``: create, list, get, change (``If-Match``), delete, run, enable, disable,
validate."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import BaseModel, Field, create_model

from flx_api.deps import Bus
from flx_api.problems import ApiProblem, problem_responses
from flx_api.views import PageOf, etag, masked_pipeline, secret_names, version_from
from flx_core.application import (
    CreatePipeline,
    DeletePipeline,
    GetPipeline,
    ListPipelines,
    UpdatePipeline,
)
from flx_core.domain import Pipeline, PipelineExecution
from flx_core.domain.ports import PipelineFilter
from flx_meltano import PipelineValidation, RunPipeline, ValidatePipeline

router = APIRouter(
    prefix="/pipelines",
    tags=["pipelines"],
    responses=problem_responses(401, 403, 404, 422, 429),
)

#: The fields a PATCH may change: those of CreatePipeline but the name, each optional.
PipelinePatch: type[BaseModel] = create_model(  # type: ignore[call-overload]
    "PipelinePatch",
    __doc__="The fields to change; those left out keep their value.",
    **{
        name: (field.annotation | None, Field(default=None, description=field.description))
        for name, field in CreatePipeline.model_fields.items()
        if name != "name"
    },
)


class RunRequest(BaseModel):
    full_refresh: bool = Field(default=False, description="Ignore the saved state")
    refresh_catalog: bool = Field(default=False, description="Discover the catalog again")
    timeout: float | None = Field(
        default=None, gt=0, description="Seconds before the run is stopped"
    )


IfMatch = Annotated[
    str | None,
    Header(description='The pipeline\'s ETag ("<version>"); refused with 412 if it moved'),
]


async def _changed(
    bus: Bus, pipeline: str, changes: dict[str, Any], if_match: str | None
) -> Pipeline:
    expected = version_from(if_match)
    result = await bus.result(
        UpdatePipeline(pipeline=pipeline, changes=changes, expected_version=expected)
    )
    if not result.ok and result.error_code == "conflict" and expected is not None:
        raise ApiProblem(
            412,
            "precondition_failed",
            result.message or "version moved",
            details={"expected": expected},
        )
    if not result.ok:
        from flx_api.problems import problem_for

        raise problem_for(result)
    value: Pipeline = result.value
    return value


async def _shown(bus: Bus, pipeline: Pipeline, response: Response) -> Pipeline:
    response.headers["ETag"] = etag(pipeline.version)
    return masked_pipeline(pipeline, await secret_names(bus))


@router.get("", response_model=PageOf[Pipeline])
async def list_pipelines(
    bus: Bus,
    name_contains: str | None = None,
    extractor: str | None = None,
    loader: str | None = None,
    enabled: bool | None = None,
    tag: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: str | None = None,
) -> PageOf[Pipeline]:
    flt = PipelineFilter(
        name_contains=name_contains, extractor=extractor, loader=loader, enabled=enabled, tag=tag
    )
    page = await bus(ListPipelines(filter=flt, limit=limit, cursor=cursor))
    declared = await secret_names(bus)
    return PageOf[Pipeline](
        items=[masked_pipeline(p, declared) for p in page.items], next_cursor=page.next_cursor
    )


@router.post(
    "",
    response_model=Pipeline,
    status_code=status.HTTP_201_CREATED,
    responses=problem_responses(409),
)
async def create_pipeline(body: CreatePipeline, bus: Bus, response: Response) -> Pipeline:
    pipeline: Pipeline = await bus(body)
    response.headers["Location"] = f"/api/v1/pipelines/{pipeline.id}"
    return await _shown(bus, pipeline, response)


@router.get("/{pipeline}", response_model=Pipeline)
async def get_pipeline(pipeline: str, bus: Bus, response: Response) -> Pipeline:
    """A pipeline by name or id; its ``ETag`` is its version."""
    return await _shown(bus, await bus(GetPipeline(pipeline=pipeline)), response)


@router.patch("/{pipeline}", response_model=Pipeline, responses=problem_responses(409, 412))
async def update_pipeline(
    pipeline: str,
    body: PipelinePatch,  # type: ignore[valid-type]
    bus: Bus,
    response: Response,
    if_match: IfMatch = None,
) -> Pipeline:
    changes = body.model_dump(exclude_unset=True)  # type: ignore[attr-defined]
    return await _shown(bus, await _changed(bus, pipeline, changes, if_match), response)


@router.delete(
    "/{pipeline}", status_code=status.HTTP_204_NO_CONTENT, responses=problem_responses(412)
)
async def delete_pipeline(pipeline: str, bus: Bus, if_match: IfMatch = None) -> Response:
    expected = version_from(if_match)
    if expected is not None:
        current: Pipeline = await bus(GetPipeline(pipeline=pipeline))
        if current.version != expected:
            raise ApiProblem(
                412,
                "precondition_failed",
                f"pipeline {current.name!r} is at version {current.version}, not {expected}",
                details={"expected": expected, "actual": current.version},
            )
    await bus(DeletePipeline(pipeline=pipeline))
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{pipeline}/run",
    response_model=PipelineExecution,
    status_code=status.HTTP_202_ACCEPTED,
    responses=problem_responses(409, 503),
)
async def run_pipeline(
    pipeline: str,
    bus: Bus,
    response: Response,
    body: RunRequest | None = None,
    idempotency_key: Annotated[
        str | None,
        Header(
            min_length=1,
            max_length=255,
            description="A repeat with the same key within 24 h returns the same execution",
        ),
    ] = None,
) -> PipelineExecution:
    """Queue a run; the execution is returned at once (follow it on
    ``/executions/{id}`` and ``/executions/{id}/logs/stream``)."""
    options = body or RunRequest()
    execution: PipelineExecution = await bus(
        RunPipeline(
            pipeline=pipeline,
            full_refresh=options.full_refresh,
            refresh_catalog=options.refresh_catalog,
            timeout=options.timeout,
            trigger="api",
            idempotency_key=idempotency_key,
        )
    )
    response.headers["Location"] = f"/api/v1/executions/{execution.id}"
    return execution


@router.post("/{pipeline}/enable", response_model=Pipeline, responses=problem_responses(409, 412))
async def enable_pipeline(
    pipeline: str, bus: Bus, response: Response, if_match: IfMatch = None
) -> Pipeline:
    return await _shown(bus, await _changed(bus, pipeline, {"enabled": True}, if_match), response)


@router.post("/{pipeline}/disable", response_model=Pipeline, responses=problem_responses(409, 412))
async def disable_pipeline(
    pipeline: str, bus: Bus, response: Response, if_match: IfMatch = None
) -> Pipeline:
    return await _shown(bus, await _changed(bus, pipeline, {"enabled": False}, if_match), response)


@router.post("/{pipeline}/validate", response_model=PipelineValidation)
async def validate_pipeline(pipeline: str, bus: Bus) -> PipelineValidation:
    """Check the pipeline could run: its plugins exist in the right order and are
    installed, required settings have values, select rules and schedule parse."""
    result: PipelineValidation = await bus(ValidatePipeline(pipeline=pipeline))
    return result

"""Errors as RFC 9457 problem details (``application/problem+json``).

Handlers return ``ServiceResult``s; a failure's code picks the HTTP status here, in one
table, so every route answers the same way for the same error. No response carries a stack
trace: an unexpected exception is logged with the request id and answered with a 500 that
names only that id.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

from flx_core.domain import ServiceResult, mask_inline_secrets

log = structlog.get_logger(__name__)

PROBLEM_JSON = "application/problem+json"

#: The HTTP status of each ServiceResult error code (anything else: 400).
STATUS_BY_CODE: dict[str, int] = {
    "unauthenticated": 401,
    "permission_denied": 403,
    "not_found": 404,
    "already_exists": 409,
    "conflict": 409,
    "invalid_transition": 409,
    "already_running": 409,
    "already_fired": 409,
    "precondition_failed": 412,
    "payload_too_large": 413,
    "invalid": 422,
    "discovery_failed": 424,
    "extension_config_unusable": 500,
    "rate_limited": 429,
    "secret_unreadable": 500,
    "no_handler": 500,
    "broker_unavailable": 503,
    "worker_refused": 503,
}

TITLES: dict[int, str] = {
    400: "Bad request",
    401: "Unauthenticated",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    412: "Precondition failed",
    413: "Payload too large",
    415: "Unsupported media type",
    422: "Invalid request",
    424: "Failed dependency",
    428: "Precondition required",
    429: "Too many requests",
    500: "Internal error",
    503: "Service unavailable",
}


class FieldError(BaseModel):
    """One invalid field of a request: where it is and what is wrong."""

    field: str = Field(description="Dotted path: body.config.tap-x.port, query.limit, ...")
    message: str


class Problem(BaseModel):
    """An error response (RFC 9457)."""

    type: str = Field(description="urn:flx:problem:<code>")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="Stable machine-readable error code")
    errors: list[FieldError] | None = None
    details: dict[str, Any] | None = None


class ApiProblem(Exception):
    """Raised by routes and dependencies; answered as a problem document."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        errors: list[FieldError] | None = None,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.errors = errors
        self.details = dict(details or {})
        self.headers = dict(headers or {})


def problem_for(result: ServiceResult[Any]) -> ApiProblem:
    """The problem a failed result answers with."""
    code = result.error_code or "error"
    details = {k: v for k, v in result.details.items() if _plain(v)}
    return ApiProblem(
        STATUS_BY_CODE.get(code, 400), code, result.message or code, details=details or None
    )


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool | list | dict) or value is None


def problem_response(
    request: Request | None, problem: ApiProblem, *, headers: Mapping[str, str] | None = None
) -> JSONResponse:
    body = Problem(
        type=f"urn:flx:problem:{problem.code}",
        title=TITLES.get(problem.status, "Error"),
        status=problem.status,
        detail=mask_inline_secrets(problem.detail),
        instance=request.url.path if request is not None else None,
        code=problem.code,
        errors=problem.errors,
        details=problem.details or None,
    )
    return JSONResponse(
        body.model_dump(mode="json", exclude_none=True),
        status_code=problem.status,
        media_type=PROBLEM_JSON,
        headers={**problem.headers, **(headers or {})},
    )


def _message_names() -> set[str]:
    """The names of the commands and queries (the messages a route builds from input)."""
    from flx_core.application import Message

    names: set[str] = set()
    todo: list[type[Message]] = [Message]
    while todo:
        for sub in todo.pop().__subclasses__():
            names.add(sub.__name__)
            todo.append(sub)
    return names


#: What FastAPI says (as a 400) when it cannot read a request body at all.
FASTAPI_BODY_UNREADABLE = "There was an error parsing the body"


def _field_errors(exc: RequestValidationError | ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err.get("loc", ()))
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        errors.append(FieldError(field=loc, message=message))
    return errors


def install_problem_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiProblem)
        return problem_response(request, exc)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        errors = _field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(request, ApiProblem(422, "invalid", detail, errors=errors))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.detail == FASTAPI_BODY_UNREADABLE:
            # A body that is not text in UTF-8: bad input like a body that is not JSON,
            # which FastAPI answers 422 (and so does every route's document).
            message = "the body is not JSON text in UTF-8"
            errors = [FieldError(field="body", message=message)]
            problem = ApiProblem(422, "invalid", f"body: {message}", errors=errors)
            return problem_response(request, problem)
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        detail = exc.detail if isinstance(exc.detail, str) else TITLES.get(exc.status_code, "")
        return problem_response(
            request,
            ApiProblem(exc.status_code, code, detail, headers=getattr(exc, "headers", None)),
        )

    async def on_invalid_message(request: Request, exc: Exception) -> JSONResponse:
        # A command or query that a route built from the request refused a value: bad
        # input, as the bus answers the same error raised in a handler. Any other model
        # refusing a value is the server's fault.
        assert isinstance(exc, ValidationError)
        if exc.title not in _message_names():
            return await on_error(request, exc)
        errors = _field_errors(exc)
        detail = "; ".join(f"{e.field}: {e.message}" for e in errors[:5])
        return problem_response(request, ApiProblem(422, "invalid", detail, errors=errors))

    async def on_error(request: Request, exc: Exception) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        log.error(
            "request_failed",
            path=request.url.path,
            request_id=request_id,
            error=type(exc).__name__,
            exc_info=exc,
        )
        return problem_response(
            request,
            ApiProblem(
                500,
                "internal_error",
                f"internal error (request id {request_id}); the server log has the details",
            ),
        )

    app.add_exception_handler(ApiProblem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(ValidationError, on_invalid_message)
    app.add_exception_handler(Exception, on_error)


#: The problem responses every protected route may give, for the OpenAPI document.
def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {
            "model": Problem,
            "description": TITLES.get(status, "Error"),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document show error responses as they are served.

    FastAPI files a response's model under ``application/json``, and its own 422 model
    (``HTTPValidationError``) where a route declares no 422; every error here is a
    ``Problem`` served as ``application/problem+json``. Clients and Schemathesis read the
    schema of the media type they get, so the ``Problem`` schema goes there.
    """
    build = app.openapi

    def openapi() -> dict[str, Any]:
        first = app.openapi_schema is None
        document = build()
        schemas = document.get("components", {}).get("schemas", {})
        if first and "Problem" in schemas:
            for item in document.get("paths", {}).values():
                for operation in item.values():
                    for status, response in operation.get("responses", {}).items():
                        if not str(status).startswith(("4", "5")):
                            continue
                        content = response.get("content", {})
                        schema = content.get("application/json", {}).get("schema", {})
                        fastapi_422 = schema.get("$ref", "").endswith("/HTTPValidationError")
                        if PROBLEM_JSON in content or fastapi_422:
                            content.pop("application/json", None)
                            content[PROBLEM_JSON] = {
                                "schema": {"$ref": "#/components/schemas/Problem"}
                            }
            if "/HTTPValidationError" not in json.dumps(document["paths"]):
                schemas.pop("HTTPValidationError", None)
                schemas.pop("ValidationError", None)
        return document

    app.openapi = openapi  # type: ignore[method-assign]

"""Failures as gRPC statuses with details (``google.rpc.Status``).

Handlers return ``ServiceResult``s; a failure's code picks the status code here, in one
table (the REST API's table in ``flx_api.problems``, in gRPC's words), so that every method
answers the same way for the same error. The details carry the FLX code as a
``google.rpc.ErrorInfo`` (reason: the code, domain ``flx``, metadata: the failure's plain
details) and, for bad input, a ``google.rpc.BadRequest`` naming each field.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import grpc
from google.protobuf import any_pb2
from google.rpc import code_pb2, error_details_pb2, status_pb2
from grpc_status import rpc_status
from pydantic import ValidationError

from flx_core.domain import ServiceResult, mask_inline_secrets

#: The status code of each ServiceResult error code (anything else: INVALID_ARGUMENT).
STATUS_BY_CODE: dict[str, grpc.StatusCode] = {
    "unauthenticated": grpc.StatusCode.UNAUTHENTICATED,
    "permission_denied": grpc.StatusCode.PERMISSION_DENIED,
    "not_found": grpc.StatusCode.NOT_FOUND,
    "already_exists": grpc.StatusCode.ALREADY_EXISTS,
    "conflict": grpc.StatusCode.ABORTED,
    "invalid_transition": grpc.StatusCode.FAILED_PRECONDITION,
    "already_running": grpc.StatusCode.FAILED_PRECONDITION,
    "already_fired": grpc.StatusCode.ALREADY_EXISTS,
    "precondition_failed": grpc.StatusCode.FAILED_PRECONDITION,
    "payload_too_large": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "invalid": grpc.StatusCode.INVALID_ARGUMENT,
    "discovery_failed": grpc.StatusCode.FAILED_PRECONDITION,
    "extension_config_unusable": grpc.StatusCode.INTERNAL,
    "rate_limited": grpc.StatusCode.RESOURCE_EXHAUSTED,
    "secret_unreadable": grpc.StatusCode.INTERNAL,
    "no_handler": grpc.StatusCode.INTERNAL,
    "broker_unavailable": grpc.StatusCode.UNAVAILABLE,
    "worker_refused": grpc.StatusCode.UNAVAILABLE,
}

DOMAIN = "flx"


class RpcFailure(Exception):
    """Raised by servicers and interceptors; answered as a status with details."""

    def __init__(
        self,
        code: str,
        message: str,
        *,
        status: grpc.StatusCode | None = None,
        details: Mapping[str, Any] | None = None,
        violations: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status or STATUS_BY_CODE.get(code, grpc.StatusCode.INVALID_ARGUMENT)
        self.details = dict(details or {})
        self.violations = list(violations)

    def to_status(self, request_id: str | None = None) -> grpc.Status:
        info = error_details_pb2.ErrorInfo(reason=self.code, domain=DOMAIN)
        for key, value in self.details.items():
            if _plain(value):
                info.metadata[key] = mask_inline_secrets(str(value))
        if request_id:
            info.metadata["request_id"] = request_id
        packed = [_pack(info)]
        if self.violations:
            bad = error_details_pb2.BadRequest(
                field_violations=[
                    error_details_pb2.BadRequest.FieldViolation(field=f, description=d)
                    for f, d in self.violations
                ]
            )
            packed.append(_pack(bad))
        status = status_pb2.Status(
            code=getattr(code_pb2, self.status.name),
            message=mask_inline_secrets(self.message),
            details=packed,
        )
        converted: grpc.Status = rpc_status.to_status(status)
        return converted


def _pack(message: Any) -> any_pb2.Any:
    packed = any_pb2.Any()
    packed.Pack(message)
    return packed


def _plain(value: Any) -> bool:
    return isinstance(value, str | int | float | bool)


def failure_for(result: ServiceResult[Any]) -> RpcFailure:
    """The failure a failed result answers with."""
    code = result.error_code or "error"
    return RpcFailure(code, result.message or code, details=result.details)


def invalid_input(exc: ValidationError, prefix: str = "") -> RpcFailure:
    """Bad input that a bus message refused, naming each field."""
    violations = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in (prefix, *err.get("loc", ())) if p != "")
        message = str(err.get("msg", "invalid value")).removeprefix("Value error, ")
        violations.append((loc, message))
    summary = "; ".join(f"{f}: {m}" if f else m for f, m in violations[:5])
    return RpcFailure("invalid", summary or "invalid request", violations=violations)


def invalid_field(field: str, message: str) -> RpcFailure:
    return RpcFailure("invalid", f"{field}: {message}", violations=[(field, message)])

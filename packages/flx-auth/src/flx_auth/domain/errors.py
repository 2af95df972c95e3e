"""Why a token is refused: one reason per failed check, named exactly."""

from __future__ import annotations

from enum import StrEnum

from flx_core.domain import Unauthenticated


class RejectReason(StrEnum):
    MALFORMED = "malformed"
    ALGORITHM_NOT_ALLOWED = "algorithm_not_allowed"
    UNKNOWN_KEY = "unknown_key"
    INVALID_SIGNATURE = "invalid_signature"
    MISSING_CLAIM = "missing_claim"
    INVALID_ISSUER = "invalid_issuer"
    INVALID_AUDIENCE = "invalid_audience"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    REVOKED = "revoked"
    USER_DISABLED = "user_disabled"
    USER_DELETED = "user_deleted"
    UNKNOWN_REFRESH_TOKEN = "unknown_refresh_token"  # noqa: S105 - a reason code
    REFRESH_TOKEN_REUSED = "refresh_token_reused"  # noqa: S105 - a reason code
    SESSION_REVOKED = "session_revoked"


class TokenRejected(Unauthenticated):
    """A token failed verification. ``reason`` says which check; the message never holds it."""

    def __init__(self, reason: RejectReason, detail: str = "") -> None:
        text = f"token rejected: {reason.value}"
        super().__init__(f"{text} ({detail})" if detail else text, reason=reason.value)
        if detail:
            self.details["detail"] = detail
        self.reason = reason
        self.detail = detail

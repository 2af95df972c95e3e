"""Access tokens (JWT, RS256 only) and refresh-token secrets.

Verification names the exact check that failed (:class:`TokenRejected`). Expiry is checked
against the application's clock, not the machine's, so tests can move time.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from flx_auth.domain.errors import RejectReason, TokenRejected
from flx_auth.security.keys import KeyStore
from flx_core.domain import DomainValueObject, new_id

ALGORITHM = "RS256"
REQUIRED_CLAIMS = ("sub", "jti", "iat", "exp", "iss", "aud")
#: Tolerated clock difference between machines for the issued-at time.
IAT_LEEWAY = timedelta(seconds=60)
REFRESH_PREFIX = "flxr_"


class TokenClaims(DomainValueObject):
    sub: str
    roles: list[str]
    jti: str
    iat: datetime
    exp: datetime
    iss: str
    aud: str
    kid: str
    sid: str | None = None

    def remaining(self, now: datetime) -> timedelta:
        return max(self.exp - now, timedelta(0))


class IssuedToken(DomainValueObject):
    token: str
    claims: TokenClaims

    def __repr__(self) -> str:
        return f"IssuedToken(jti={self.claims.jti!r})"


def _timestamp(payload: dict[str, Any], claim: str) -> datetime:
    value = payload[claim]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TokenRejected(RejectReason.MALFORMED, f"claim {claim!r} is not a timestamp")
    return datetime.fromtimestamp(value, UTC)


class AccessTokens:
    def __init__(self, keys: KeyStore, *, issuer: str, audience: str, ttl_seconds: int) -> None:
        self.keys = keys
        self.issuer = issuer
        self.audience = audience
        self.ttl = timedelta(seconds=ttl_seconds)

    def issue(
        self, *, subject: str, roles: list[str], session_id: str | None, now: datetime
    ) -> IssuedToken:
        key = self.keys.signing_key()
        issued = now.replace(microsecond=0)
        claims = TokenClaims(
            sub=subject,
            roles=sorted(roles),
            jti=new_id(),
            iat=issued,
            exp=issued + self.ttl,
            iss=self.issuer,
            aud=self.audience,
            kid=key.kid,
            sid=session_id,
        )
        payload: dict[str, Any] = {
            "sub": claims.sub,
            "roles": claims.roles,
            "jti": claims.jti,
            "iat": int(claims.iat.timestamp()),
            "exp": int(claims.exp.timestamp()),
            "iss": claims.iss,
            "aud": claims.aud,
        }
        if session_id is not None:
            payload["sid"] = session_id
        import jwt  # here, not at the top: most processes never sign or verify a token

        token = jwt.encode(payload, key.private_key, algorithm=ALGORITHM, headers={"kid": key.kid})
        return IssuedToken(token=token, claims=claims)

    def decode(self, token: str, now: datetime, *, check_expiry: bool = True) -> TokenClaims:
        """The verified claims of ``token``; raises TokenRejected naming the failed check."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenRejected(RejectReason.MALFORMED, "not a JWT") from None
        alg = header.get("alg")
        if alg != ALGORITHM:
            shown = str(alg)[:16]
            raise TokenRejected(
                RejectReason.ALGORITHM_NOT_ALLOWED, f"alg {shown!r}; only {ALGORITHM} is accepted"
            )
        kid = header.get("kid")
        keys = self.keys.verification_keys()
        if not isinstance(kid, str) or kid not in keys:
            raise TokenRejected(RejectReason.UNKNOWN_KEY, "no signing key with this kid")
        try:
            payload = jwt.decode(
                token,
                keys[kid],
                algorithms=[ALGORITHM],
                audience=self.audience,
                issuer=self.issuer,
                options={
                    "verify_exp": False,
                    "verify_iat": False,
                    "verify_nbf": False,
                    "require": list(REQUIRED_CLAIMS),
                },
            )
        except jwt.InvalidSignatureError:
            raise TokenRejected(RejectReason.INVALID_SIGNATURE) from None
        except jwt.MissingRequiredClaimError as exc:
            raise TokenRejected(RejectReason.MISSING_CLAIM, f"no {exc.claim!r} claim") from None
        except jwt.InvalidIssuerError:
            raise TokenRejected(
                RejectReason.INVALID_ISSUER, f"issuer is not {self.issuer!r}"
            ) from None
        except jwt.InvalidAudienceError:
            raise TokenRejected(
                RejectReason.INVALID_AUDIENCE, f"audience is not {self.audience!r}"
            ) from None
        except jwt.InvalidAlgorithmError:
            raise TokenRejected(RejectReason.ALGORITHM_NOT_ALLOWED) from None
        except jwt.PyJWTError as exc:
            raise TokenRejected(RejectReason.MALFORMED, type(exc).__name__) from None
        exp, iat = _timestamp(payload, "exp"), _timestamp(payload, "iat")
        if check_expiry and now >= exp:
            raise TokenRejected(RejectReason.EXPIRED, f"expired at {exp.isoformat()}")
        if iat > now + IAT_LEEWAY:
            raise TokenRejected(RejectReason.NOT_YET_VALID, f"issued at {iat.isoformat()}")
        roles = payload.get("roles", [])
        sid = payload.get("sid")
        if not isinstance(roles, list) or not all(isinstance(r, str) for r in roles):
            raise TokenRejected(RejectReason.MALFORMED, "claim 'roles' is not a list of names")
        aud = payload["aud"]
        return TokenClaims(
            sub=payload["sub"],
            roles=roles,
            jti=payload["jti"],
            iat=iat,
            exp=exp,
            iss=payload["iss"],
            aud=aud if isinstance(aud, str) else self.audience,
            kid=kid,
            sid=sid if isinstance(sid, str) else None,
        )


def new_refresh_token() -> str:
    """A fresh opaque refresh token (256 random bits)."""
    return REFRESH_PREFIX + secrets.token_urlsafe(32)


def hash_refresh_token(token: str) -> str:
    """What is stored of a refresh token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()

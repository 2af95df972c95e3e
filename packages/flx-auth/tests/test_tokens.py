"""Access tokens: what a valid one says, and every way a forged or stale one is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from pydantic import SecretStr

from flx_auth import (
    DeleteUser,
    DisableUser,
    Logout,
    RejectReason,
    Role,
    RotateKeys,
    SetUserRole,
    TokenRejected,
    authenticate,
)
from flx_auth.security import SigningKey


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))
    return decoded


def segments(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    header, payload, _ = token.split(".")
    return unb64(header), unb64(payload)


def forge(header: dict[str, Any], payload: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand: unsigned when ``key`` is None, else HMAC-SHA256 with ``key``."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(payload).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def resign(token: str, pem: str, **changes: Any) -> str:
    """The token's claims with ``changes``, signed RS256 with ``pem`` under the same kid."""
    header, payload = segments(token)
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    return jwt.encode(payload | changes, key, algorithm="RS256", headers={"kid": header["kid"]})  # type: ignore[arg-type]


async def rejection(auth: Any, token: str) -> tuple[RejectReason, str]:
    result = await auth.verify(token)
    assert not result.ok
    assert result.error_code == "unauthenticated"
    with pytest.raises(TokenRejected) as caught:
        await authenticate(auth.app, token)
    assert caught.value.reason.value == result.details["reason"]
    assert token not in (result.message or "")
    return caught.value.reason, result.message or ""


@pytest.fixture
async def token(auth: Any) -> str:
    await auth.user("ada@example.com", Role.OPERATOR)
    access: str = (await auth.tokens("ada@example.com")).access_token
    return access


async def test_a_valid_token_is_rs256_with_the_expected_claims(auth: Any, token: str) -> None:
    header, payload = segments(token)
    assert header["alg"] == "RS256" and header["kid"]
    assert set(payload) >= {"sub", "roles", "jti", "iat", "exp", "iss", "aud"}
    assert payload["exp"] - payload["iat"] == 900
    assert payload["iss"] == "flx" and payload["aud"] == "flx"
    verified = (await auth.verify(token)).unwrap()
    assert verified.email == "ada@example.com" and verified.claims.roles == ["operator"]
    principal = await authenticate(auth.app, token)
    assert principal.subject == "ada@example.com" and principal.roles == {"operator"}


async def test_alg_none_is_rejected(auth: Any, token: str) -> None:
    header, payload = segments(token)
    forged = forge(header | {"alg": "none"}, payload, None)
    reason, message = await rejection(auth, forged)
    assert reason is RejectReason.ALGORITHM_NOT_ALLOWED
    assert "'none'" in message and "only RS256" in message


async def test_hs256_signed_with_the_public_key_is_rejected(
    auth: Any, token: str, signing_pem: str
) -> None:
    public_pem = (
        serialization.load_pem_private_key(signing_pem.encode(), password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    header, payload = segments(token)
    forged = forge(header | {"alg": "HS256"}, payload, public_pem)
    reason, message = await rejection(auth, forged)
    assert reason is RejectReason.ALGORITHM_NOT_ALLOWED and "'HS256'" in message


async def test_wrong_issuer_is_rejected(auth: Any, token: str, signing_pem: str) -> None:
    reason, message = await rejection(auth, resign(token, signing_pem, iss="evil"))
    assert reason is RejectReason.INVALID_ISSUER and "issuer is not 'flx'" in message


async def test_wrong_audience_is_rejected(auth: Any, token: str, signing_pem: str) -> None:
    reason, _ = await rejection(auth, resign(token, signing_pem, aud="another-service"))
    assert reason is RejectReason.INVALID_AUDIENCE


async def test_expiry_follows_the_application_clock(auth: Any, token: str) -> None:
    auth.clock.advance(899)
    assert (await auth.verify(token)).ok
    auth.clock.advance(1)
    reason, message = await rejection(auth, token)
    assert reason is RejectReason.EXPIRED and "expired at 2026-03-01T12:15:00" in message


async def test_unknown_kid_is_rejected(auth: Any, token: str, signing_pem: str) -> None:
    _, payload = segments(token)
    key = serialization.load_pem_private_key(signing_pem.encode(), password=None)
    forged = jwt.encode(payload, key, algorithm="RS256", headers={"kid": "not-our-key"})  # type: ignore[arg-type]
    reason, _ = await rejection(auth, forged)
    assert reason is RejectReason.UNKNOWN_KEY


async def test_a_signature_by_another_key_under_our_kid_is_rejected(auth: Any, token: str) -> None:
    other = SigningKey.generate().pem().decode()
    reason, _ = await rejection(auth, resign(token, other))
    assert reason is RejectReason.INVALID_SIGNATURE


async def test_a_missing_claim_and_garbage_are_rejected(
    auth: Any, token: str, signing_pem: str
) -> None:
    header, payload = segments(token)
    key = serialization.load_pem_private_key(signing_pem.encode(), password=None)
    del payload["jti"]
    no_jti = jwt.encode(payload, key, algorithm="RS256", headers={"kid": header["kid"]})  # type: ignore[arg-type]
    assert (await rejection(auth, no_jti))[0] is RejectReason.MISSING_CLAIM
    assert (await rejection(auth, "not.a.jwt"))[0] is RejectReason.MALFORMED


async def test_a_blacklisted_token_is_rejected(auth: Any) -> None:
    await auth.user("ada@example.com")
    pair = await auth.tokens("ada@example.com")
    assert (await auth.run(Logout(access_token=SecretStr(pair.access_token)))).ok
    reason, message = await rejection(auth, pair.access_token)
    assert reason is RejectReason.REVOKED and "logout or revocation" in message


async def test_a_disabled_users_token_is_rejected(auth: Any, token: str) -> None:
    assert (await auth.run(DisableUser(email="ada@example.com"))).ok
    assert (await rejection(auth, token))[0] is RejectReason.USER_DISABLED


async def test_a_deleted_users_token_is_rejected(auth: Any, token: str) -> None:
    assert (await auth.run(DeleteUser(email="ada@example.com"))).ok
    assert (await rejection(auth, token))[0] is RejectReason.USER_DELETED


async def test_a_role_change_applies_to_live_tokens_at_once(auth: Any, token: str) -> None:
    await auth.run(SetUserRole(email="ada@example.com", roles={Role.VIEWER}))
    principal = await authenticate(auth.app, token)
    assert principal.roles == {"viewer"}


async def test_rotation_keeps_the_previous_key_for_verification(auth_keys_on_disk: Any) -> None:
    auth = auth_keys_on_disk
    await auth.user("ada@example.com")
    first = (await auth.tokens("ada@example.com")).access_token
    rotation = (await auth.run(RotateKeys())).unwrap()
    assert rotation.previous_kid == segments(first)[0]["kid"] != rotation.kid
    second = (await auth.tokens("ada@example.com")).access_token
    assert segments(second)[0]["kid"] == rotation.kid
    assert (await auth.verify(first)).ok and (await auth.verify(second)).ok
    (await auth.run(RotateKeys())).unwrap()
    assert (await rejection(auth, first))[0] is RejectReason.UNKNOWN_KEY
    assert (await auth.verify(second)).ok


async def test_rotation_is_refused_for_a_key_given_by_the_settings(auth: Any) -> None:
    result = await auth.run(RotateKeys())
    assert result.error_code == "invalid"
    assert "FLX_JWT_PRIVATE_KEY" in (result.message or "")

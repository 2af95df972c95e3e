"""Passwords, signing keys and tokens."""

from flx_auth.security.keys import (
    FileKeyStore as FileKeyStore,
    KeyStore as KeyStore,
    SigningKey as SigningKey,
    StaticKeyStore as StaticKeyStore,
    key_id as key_id,
    key_store_for as key_store_for,
)
from flx_auth.security.passwords import PasswordHasher as PasswordHasher
from flx_auth.security.tokens import (
    AccessTokens as AccessTokens,
    IssuedToken as IssuedToken,
    TokenClaims as TokenClaims,
    hash_refresh_token as hash_refresh_token,
    new_refresh_token as new_refresh_token,
)

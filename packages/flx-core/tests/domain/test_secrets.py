"""Which settings are secret, and masking them by name and inside connection strings."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, strategies as st

from flx_core.config import mask_url
from flx_core.domain import MASK, Plugin, PluginType, mask_settings
from flx_core.domain.secrets import has_inline_secret, looks_secret, mask_inline_secrets


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "passwd",
        "pwd",
        "DB_PWD",
        "dbpassword",
        "credentials",
        "google_credentials",
        "private_key",
        "privateKey",
        "PRIVATE_KEY",
        "ssh_private_key",
        "api_key",
        "apiKey",
        "x-api-key",
        "client_secret",
        "clientSecret",
        "aws_secret_access_key",
        "access_token",
        "refresh_token",
        "passphrase",
        "Authorization",
        "secret_id",
    ],
)
def test_secret_names(name: str) -> None:
    assert looks_secret(name)


@pytest.mark.parametrize(
    "name",
    [
        "host",
        "username",
        "user",
        "key",
        "sqlalchemy_url",
        # They describe a secret, they do not hold one.
        "pwd_reset_url",
        "password_policy",
        "password_min_length",
        "token_url",
        "token_type",
        "authorization_url",
        "max_tokens",
        "tokenizer",
        "bypass_cache",
    ],
)
def test_names_that_are_not_secret(name: str) -> None:
    assert not looks_secret(name)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("postgresql://u:pw123@db/x", f"postgresql://u:{MASK}@db/x"),
        ("postgresql+psycopg://u:p@ss@db:5432/x", f"postgresql+psycopg://u:{MASK}@db:5432/x"),
        ("redis://:s3cret@cache:6379/0", f"redis://:{MASK}@cache:6379/0"),
        ("scott:tiger@localhost", f"scott:{MASK}@localhost"),
        ("u:pass@db.example.com:3306/sales", f"u:{MASK}@db.example.com:3306/sales"),
        (
            "host=db port=5432 password=hunter2 dbname=x",
            f"host=db port=5432 password={MASK} dbname=x",
        ),
        ("host=db password='a b\\' c' user=u", f"host=db password={MASK} user=u"),
        ("Server=db;Uid=u;Pwd=s3cret;", f"Server=db;Uid=u;Pwd={MASK};"),
        (
            "postgresql://db/x?sslmode=require&password=pw",
            f"postgresql://db/x?sslmode=require&password={MASK}",
        ),
        (
            "https://api.example.com/v1?access_token=abc&page=2",
            f"https://api.example.com/v1?access_token={MASK}&page=2",
        ),
        ("dsn=postgresql://u:pw@h/db timeout=3", f"dsn=postgresql://u:{MASK}@h/db timeout=3"),
    ],
)
def test_passwords_inside_connection_strings_are_masked(text: str, masked: str) -> None:
    assert mask_inline_secrets(text) == masked
    assert has_inline_secret(text)


@pytest.mark.parametrize(
    "text",
    [
        "postgresql://u@db/x",
        "http://host:8080/path@x",
        "git@github.com:org/repo.git",
        "mailto:someone@example.com",
        "host=db port=5432 dbname=x",
        "plain words, no secret",
        "2024-01-01T00:00:00Z",
    ],
)
def test_strings_without_a_password_are_left_alone(text: str) -> None:
    assert mask_inline_secrets(text) == text
    assert not has_inline_secret(text)


_password = st.text(
    alphabet=string.ascii_letters + string.digits + "!$%^*()-_+[]{}~@.:", min_size=4, max_size=24
).filter(lambda p: not p.startswith("@") and not p.endswith("@"))
_host = st.from_regex(r"\A[a-z][a-z0-9-]{0,12}(\.[a-z]{2,5})?\Z")
_user = st.from_regex(r"\A[a-z][a-z0-9_]{0,10}\Z")


@given(
    user=_user,
    password=_password,
    host=_host,
    scheme=st.sampled_from(["", "postgresql://", "mysql+pymysql://", "redis://"]),
)
def test_a_url_password_never_survives_masking(
    user: str, password: str, host: str, scheme: str
) -> None:
    url = f"{scheme}{user}:{password}@{host}:5432/db"
    masked = mask_inline_secrets(url)
    assert masked == f"{scheme}{user}:{MASK}@{host}:5432/db"
    assert mask_url(url) == masked


@given(password=_password.filter(lambda p: "'" not in p and "\\" not in p), quoted=st.booleans())
def test_a_libpq_password_never_survives_masking(password: str, quoted: bool) -> None:
    value = f"'{password} x'" if quoted else password
    masked = mask_inline_secrets(f"host=db password={value} dbname=sales")
    assert masked == f"host=db password={MASK} dbname=sales"


def test_mask_settings_by_name_value_and_nesting() -> None:
    values = {
        "passwd": "p1",
        "pwd": "p2",
        "credentials": {"type": "service_account", "key": "k"},
        "private_key": "-----BEGIN-----",
        "dsn": "host=db password=p3",
        "url": "u:p4@db:3306/x",
        "auth": {"client_secret": "p5", "user": "me"},
        "headers": [{"Authorization": "Bearer p6"}],
        "password_policy": "strong",
        "pwd_reset_url": "https://example.com/reset",
        "empty_password": "",
    }
    masked = mask_settings(values)
    assert masked == {
        "passwd": MASK,
        "pwd": MASK,
        "credentials": MASK,
        "private_key": MASK,
        "dsn": f"host=db password={MASK}",
        "url": f"u:{MASK}@db:3306/x",
        "auth": {"client_secret": MASK, "user": "me"},
        "headers": [{"Authorization": MASK}],
        "password_policy": "strong",
        "pwd_reset_url": "https://example.com/reset",
        "empty_password": "",
    }
    assert not any(f"p{i}" in repr(masked) for i in range(1, 7))


def test_declared_secret_is_masked_whatever_its_name() -> None:
    plugin = Plugin(
        plugin_type=PluginType.EXTRACTOR,
        name="tap-x",
        settings=[{"name": "dsn_key", "kind": "secret"}],
    )
    assert plugin.masked({"dsn_key": "abc", "host": "db"}) == {"dsn_key": MASK, "host": "db"}

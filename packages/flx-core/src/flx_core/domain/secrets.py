"""Recognising and masking secrets in settings, wherever they are shown or recorded.

Two rules say what is secret, and every output, log and audit record applies both:

- By name (:func:`looks_secret`): the name contains a secret word (``password``, ``passwd``,
  ``pwd``, ``passphrase``, ``secret``, ``token``, ``credentials``, ``authorization``,
  ``private_key``, ``api_key``...), in any spelling (``clientSecret``, ``DB_PWD``,
  ``x-api-key``). Plugins also declare settings secret (``kind: secret``).
- By value (:func:`mask_inline_secrets`): a password inside a connection string, whatever
  the setting is called: ``postgresql://user:pw@host/db``, ``user:pw@host:3306/db`` (no
  scheme), libpq and ODBC keyword strings (``host=db password=pw``, ``Server=db;Pwd=pw``) and
  URL query parameters (``?password=pw``).
"""

from __future__ import annotations

import itertools
import re
from typing import Any

MASK = "********"

#: Words that make a setting name secret. A word of the name matches when it ends with one
#: (``dbpassword``, ``accesstoken``) or with its plural.
SECRET_WORDS = (
    "password",
    "passwd",
    "pwd",
    "passphrase",
    "secret",
    "token",
    "credential",
    "creds",
    "authorization",
    "apikey",
    "privatekey",
)
#: Two-word names that are secret together though neither word is (``private_key``).
SECRET_PAIRS = (("api", "key"), ("private", "key"))
#: A last word that makes the name describe a secret rather than hold one:
#: ``password_policy``, ``pwd_reset_url``, ``token_url``, ``token_type``, ``password_min_length``.
DESCRIPTIVE_TAILS = frozenset(
    {
        "url",
        "uri",
        "endpoint",
        "policy",
        "type",
        "ttl",
        "expiry",
        "length",
        "prompt",
        "count",
        "limit",
    }
)
#: A first word that makes the name a quantity: ``max_tokens``, ``num_tokens``.
DESCRIPTIVE_HEADS = frozenset({"max", "min", "num"})
#: Words that are not secrets though they end like one.
NOT_SECRET_WORDS = frozenset({"tokenizer", "tokenize", "tokenization"})

_WORD = re.compile(r"[A-Z]+(?![a-z])|[A-Z]?[a-z]+|\d+")

#: ``user:password@host``, with or without ``scheme://``, at the start of a token. The
#: password runs to the last ``@`` of the authority, as ``urllib.parse`` reads it.
_USERINFO = re.compile(
    r"""(?:^|(?<=[\s'"(,;=<]))"""
    r"(?P<head>(?P<scheme>[A-Za-z][\w+.-]*://)?(?P<user>[^\s:/?#@'\"<>]*))"
    r":(?P<password>[^\s/?#'\"<>]*)@(?=[^\s/?#@'\"<>])"
)
#: Schemes written without ``//`` whose ``x:y@z`` is not a user and a password.
_OPAQUE_SCHEMES = frozenset({"mailto", "urn", "tel", "sip", "sips", "xmpp", "data", "news"})
#: ``name=value`` pairs: libpq (``password=pw``, ``password='a b'``), ODBC (``Pwd=pw;``) and
#: URL query parameters (``&password=pw``).
_PAIR = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z_][\w.-]*)(?P<sep>\s*=\s*)"
    r"""(?P<value>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|[^\s;&'"]+)"""
)


def _words(name: str) -> list[str]:
    return [w.lower() for w in _WORD.findall(name)]


def _secret_word(word: str) -> bool:
    if word in NOT_SECRET_WORDS:
        return False
    return any(word.endswith(w) or word.endswith(w + "s") for w in SECRET_WORDS)


def looks_secret(name: str) -> bool:
    """Whether a setting called ``name`` holds a secret, judging by its name alone.

    Names that describe a secret without holding one are not secret: their last word is
    one of :data:`DESCRIPTIVE_TAILS` (``password_policy`` is a rule about passwords,
    ``pwd_reset_url`` and ``token_url`` are addresses, ``password_min_length`` a number), or
    their first one of :data:`DESCRIPTIVE_HEADS` (``max_tokens``). A connection string such a
    setting holds is still masked by its value.
    """
    words = _words(name)
    if not words:
        return False
    if len(words) > 1 and (words[-1] in DESCRIPTIVE_TAILS or words[0] in DESCRIPTIVE_HEADS):
        return False
    if any(_secret_word(w) for w in words):
        return True
    return any(pair in SECRET_PAIRS for pair in itertools.pairwise(words))


def _mask_userinfo(match: re.Match[str]) -> str:
    if not match["scheme"] and match["user"].lower() in _OPAQUE_SCHEMES:
        return match[0]
    if not match["password"]:
        return match[0]
    return f"{match['head']}:{MASK}@"


def _mask_pair(match: re.Match[str]) -> str:
    if not looks_secret(match["name"]):
        return match[0]
    return f"{match['name']}{match['sep']}{MASK}"


def mask_url_password(value: str) -> str:
    """``value`` with the password of a URL masked: ``scheme://user:********@host/...``.

    Also without a scheme (``user:********@host:3306/db``) and in secret query parameters
    (``?sslmode=require&password=********``).
    """
    if "@" not in value and "=" not in value:
        return value
    return _PAIR.sub(_mask_pair, _USERINFO.sub(_mask_userinfo, value))


def mask_inline_secrets(text: str) -> str:
    """``text`` with passwords inside connection strings masked, wherever they appear:
    URLs (with or without a scheme) and ``name=value`` pairs whose name looks secret
    (libpq ``host=db password=pw``, ODBC ``Server=db;Pwd=pw``)."""
    return mask_url_password(text)


def has_inline_secret(text: str) -> bool:
    """Whether ``text`` carries a password in a connection string (see
    :func:`mask_inline_secrets`)."""
    return mask_inline_secrets(text) != text


def _mask_value(value: Any, secret_names: frozenset[str]) -> Any:
    if isinstance(value, str):
        return mask_inline_secrets(value)
    if isinstance(value, dict):
        return mask_settings(value, secret_names)
    if isinstance(value, list):
        return [_mask_value(v, secret_names) for v in value]
    return value


def mask_settings(
    values: dict[str, Any], secret_names: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """``values`` with secrets masked: declared or secret-looking names (also in nested
    objects), and passwords inside connection strings."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if (key in secret_names or looks_secret(key)) and value not in (None, ""):
            out[key] = MASK
        else:
            out[key] = _mask_value(value, secret_names)
    return out


def keep_masked(new: Any, old: Any) -> Any:
    """``new`` where each value that is the mask of the value it replaces is that stored
    value again: a secret read back masked and sent with an edit is kept, not replaced by
    ``********`` (also a connection string whose password was masked)."""
    if isinstance(new, dict) and isinstance(old, dict):
        return {k: keep_masked(v, old[k]) if k in old else v for k, v in new.items()}
    if new == MASK and old not in (None, ""):
        return old
    masked_url = isinstance(new, str) and isinstance(old, str) and MASK in new
    if masked_url and new == mask_url_password(old):
        return old
    return new

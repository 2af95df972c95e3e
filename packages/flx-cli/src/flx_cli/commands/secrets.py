"""`flx secrets`: the keys that encrypt secret settings at rest: status, rotation, old keys.

Keys are ``FLX_SECRET_KEY`` (comma-separated, newest first) or, when it is unset, the key
file ``$FLX_HOME/keys/secrets.keys``. A rotation adds a key that encrypts from then on; the
older keys still decrypt until ``flx secrets drop-old-keys`` re-encrypts what is left under
them and drops them. FLX never writes ``FLX_SECRET_KEY``: with it set, ``rotate-key`` prints
the new key once, for the operator to put first in the variable.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from flx_cli.context import CliContext, fail, pass_cli
from flx_cli.output import json_option, print_json, print_table, say

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from flx_core.bootstrap import Runtime
    from flx_core.infrastructure.secret_cipher import SecretCipher

T = TypeVar("T")


def _cipher(cli: CliContext) -> SecretCipher:
    from flx_core.infrastructure.secret_cipher import secret_cipher

    return secret_cipher(cli.settings())


def _in_transaction(cli: CliContext, fn: Callable[[AsyncSession, SecretCipher], Awaitable[T]]) -> T:
    """``fn(session, cipher)`` in one transaction on the database; a domain error (a key
    that does not decrypt) stops with its one-line message."""
    from flx_core.domain import DomainError

    async def go(runtime: Runtime) -> T | DomainError:
        if runtime.session_factory is None:
            fail("this process has no database")
        cipher = _cipher(cli)
        try:
            async with runtime.session_factory() as session, session.begin():
                return await fn(session, cipher)
        except DomainError as exc:
            return exc

    result = cli.run(go)
    if isinstance(result, DomainError):
        fail(result.message)
    return result


async def _reseal(session: AsyncSession, cipher: SecretCipher) -> dict[str, Any]:
    from flx_core.infrastructure.persistence import reseal_secrets, stored_secrets

    changed = await reseal_secrets(session, cipher)
    return {"reencrypted": changed, "stored": dict(await stored_secrets(session))}


async def _stored(session: AsyncSession, cipher: SecretCipher) -> dict[str, int]:
    from flx_core.infrastructure.persistence import stored_secrets

    return dict(await stored_secrets(session))


def _source(cli: CliContext) -> str:
    from flx_core.infrastructure.secret_cipher import KEYS_FILE, VARIABLE

    settings = cli.settings()
    return VARIABLE if settings.secret_key else str(settings.home_path / "keys" / KEYS_FILE)


def _reencrypted(changed: dict[str, int]) -> str:
    return f"{changed['plugins']} plugin(s) and {changed['pipelines']} pipeline(s)"


@click.group()
def secrets() -> None:
    """Keys that encrypt secret settings at rest: status, rotate-key, drop-old-keys."""


@secrets.command("status")
@json_option
@pass_cli
def status(cli: CliContext) -> None:
    """Where the keys are, their ids (newest first) and the stored secrets each encrypts."""
    from flx_core.infrastructure.secret_cipher import CLEAR

    stored = _in_transaction(cli, _stored)
    ids = _cipher(cli).key_ids()
    keys = [
        {"id": kid, "encrypts": i == 0, "secrets": stored.get(kid, 0)} for i, kid in enumerate(ids)
    ]
    unknown = {k: n for k, n in stored.items() if k not in ids and k != CLEAR}
    data = {"source": _source(cli), "keys": keys, "clear": stored.get(CLEAR, 0), "unknown": unknown}
    if cli.json:
        print_json(data)
        return
    say(f"keys from {data['source']}")
    rows = [(k["id"], "yes" if k["encrypts"] else "", k["secrets"]) for k in keys]
    rows += [(kid, "missing", n) for kid, n in unknown.items()]
    if rows:
        print_table(None, ["key id", "encrypts", "secrets"], rows)
    else:
        say("no key yet: one is made when the first secret setting is stored")
    if data["clear"]:
        say(f"{data['clear']} secret(s) stored in clear: run `flx secrets rotate-key`")


@secrets.command("rotate-key")
@json_option
@pass_cli
def rotate_key(cli: CliContext) -> None:
    """Make a new key and re-encrypt every stored secret under it.

    The older keys still decrypt until `flx secrets drop-old-keys`. With FLX_SECRET_KEY
    set, print a new key (once) to put first in FLX_SECRET_KEY; the secrets are re-encrypted
    under it by `flx secrets drop-old-keys` once every FLX process has it.
    """
    from flx_core.infrastructure.secret_cipher import VARIABLE, FileKeys, key_id, new_key

    cipher = _cipher(cli)
    if not isinstance(cipher.source, FileKeys):
        key = new_key()
        if cli.json:
            print_json({"source": VARIABLE, "key_id": key_id(key), "key": key.decode()})
            return
        say(f"new key {key_id(key)}, shown once (keep it where you keep {VARIABLE}):")
        say(f"  {key.decode()}")
        say(f"put it first in {VARIABLE} in every FLX process, the current keys after it:")
        say(f"  {VARIABLE}={key.decode()},${VARIABLE}")
        say("then run `flx secrets drop-old-keys` to re-encrypt the stored secrets under it")
        return
    previous = cipher.key_ids()
    key = cipher.source.add()
    result = _in_transaction(cli, _reseal)
    data = {"source": str(cipher.source.path), "key_id": key_id(key), "previous": previous}
    if cli.json:
        print_json(data | result)
        return
    say(f"new key {key_id(key)} in {cipher.source.path}")
    say(f"re-encrypted the secrets of {_reencrypted(result['reencrypted'])}")
    if previous:
        say(
            f"older key(s) {', '.join(previous)} still decrypt; "
            "drop them with `flx secrets drop-old-keys`"
        )


@secrets.command("drop-old-keys")
@json_option
@pass_cli
def drop_old_keys(cli: CliContext) -> None:
    """Re-encrypt what is left under older keys with the newest, then drop the older keys.

    With FLX_SECRET_KEY set, say which keys to remove from it (FLX never writes it).
    """
    from flx_core.infrastructure.secret_cipher import VARIABLE, FileKeys

    cipher = _cipher(cli)
    result = _in_transaction(cli, _reseal)
    primary = cipher.primary_id()
    left = {k: n for k, n in result["stored"].items() if k != primary}
    if left:
        fail(f"secrets not under key {primary} remain ({left}); nothing dropped")
    older = cipher.key_ids()[1:]
    if isinstance(cipher.source, FileKeys):
        cipher.source.keep_first()
    data = {"source": _source(cli), "key_id": primary, "dropped": older} | result
    if cli.json:
        print_json(data)
        return
    done = _reencrypted(result["reencrypted"])
    say(f"every stored secret is under key {primary} (re-encrypted: {done})")
    if not older:
        say("no older key to drop")
    elif isinstance(cipher.source, FileKeys):
        say(f"dropped key(s) {', '.join(older)} from {cipher.source.path}")
    else:
        say(f"remove key(s) {', '.join(older)} from {VARIABLE}: keep only its first key")

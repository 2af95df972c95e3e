"""`flx auth`: log in, verify tokens, list and revoke sessions, rotate the signing keys."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flx_cli.commands.user import read_password, send
from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import json_option, print_json, print_mapping, say

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _user_agent() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return f"flx-cli/{version('flx-cli')}"
    except PackageNotFoundError:
        return "flx-cli"


@click.group()
def auth() -> None:
    """Log in, verify tokens, sessions and signing keys."""


@auth.command("login")
@click.option("--email", default=None, help="The user's email (asked for against a server).")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@json_option
@pass_cli
def login(cli: CliContext, email: str | None, password_stdin: bool) -> None:
    """Log in and print an access token and a refresh token.

    Against a server (--server URL or FLX_SERVER) the tokens are kept in
    $FLX_HOME/credentials instead, and later commands use them (refreshed when the access
    token expires).
    """
    from pydantic import SecretStr

    from flx_auth import Login

    if cli.remote:
        return _remote_login(cli, email, password_stdin)
    if email is None:
        raise click.MissingParameter(param_type="option", param_hint="'--email'")
    password = read_password(password_stdin, confirm=False)
    pair = send(
        cli,
        lambda: Login(email=email, password=SecretStr(password), user_agent=_user_agent()),
    )
    if cli.json:
        print_json(pair.model_dump(mode="json"))
        return
    say(f"access token:  {pair.access_token}")
    say(f"refresh token: {pair.refresh_token}")
    say(
        f"the access token expires in {pair.expires_in} s ({_when(pair.expires_at)} UTC); "
        f"session {pair.session_id}"
    )


def _remote_login(cli: CliContext, email: str | None, password_stdin: bool) -> None:
    if email is None:
        if password_stdin or not sys.stdin.isatty():
            fail("give --email (no terminal to ask for it)", 2)
        email = str(click.prompt("Email")).strip()
    password = read_password(password_stdin, confirm=False)
    given = email

    async def go(runtime: Runtime) -> Any:
        return await runtime.app.client.login(given, password)  # type: ignore[attr-defined]

    credentials = cli.run(go)
    facts = {
        "server": credentials.server,
        "email": credentials.email,
        "session_id": credentials.session_id,
        "expires_at": credentials.expires_at.isoformat(),
        "credentials": str(cli.settings().home_path / "credentials"),
    }
    if cli.json:
        print_json(facts)
        return
    say(f"logged in to {credentials.server} as {credentials.email}")
    say(f"tokens kept in {facts['credentials']} (session {credentials.session_id})")


@auth.command("status")
@json_option
@pass_cli
def status(cli: CliContext) -> None:
    """Who you are logged in as on the server (--server URL or FLX_SERVER)."""
    if not cli.remote:
        fail("flx auth status tells who you are on a server: give --server URL or FLX_SERVER", 2)

    async def go(runtime: Runtime) -> Any:
        from flx_auth import CurrentUser
        from flx_core.domain import Principal

        me = unwrap(await runtime.app.execute(CurrentUser(), principal=Principal.system()))
        stored = runtime.app.client.store.get(runtime.app.client.server)  # type: ignore[attr-defined]
        return me, stored

    me, stored = cli.run(go)
    facts = {
        "server": cli.server,
        "email": me.email,
        "roles": sorted(me.roles),
        "session_id": stored.session_id if stored else None,
        "access_token_expires_at": stored.expires_at.isoformat() if stored else None,
    }
    if cli.json:
        print_json(facts)
    else:
        print_mapping(f"Logged in to {cli.server}", {**facts, "roles": ", ".join(facts["roles"])})


@auth.command("verify")
@click.argument("token")
@json_option
@pass_cli
def verify(cli: CliContext, token: str) -> None:
    """Print the claims of access TOKEN, or why it is rejected (exit 1). '-' reads stdin."""
    if token == "-":  # noqa: S105 - the stdin marker
        token = sys.stdin.readline().strip()

    async def go(runtime: Runtime) -> Any:
        from pydantic import SecretStr

        from flx_auth import VerifyToken
        from flx_core.domain import Principal

        message = VerifyToken(token=SecretStr(token))
        return await runtime.app.queries.execute(message, principal=Principal.system())

    result = cli.run(go)
    if not result.ok:
        if cli.json:
            print_json({"valid": False, "reason": result.details.get("reason")})
        fail(result.message or "token rejected")
    verified = result.value
    claims = verified.claims.model_dump(mode="json")
    if cli.json:
        print_json({"valid": True, "email": verified.email, "claims": claims})
        return
    print_mapping(
        "Valid token",
        {
            "email": verified.email,
            "subject": claims["sub"],
            "roles (token)": ", ".join(claims["roles"]),
            "roles (now)": ", ".join(verified.roles),
            "token id (jti)": claims["jti"],
            "issued": _when(verified.claims.iat),
            "expires": _when(verified.claims.exp),
            "issuer": claims["iss"],
            "audience": claims["aud"],
            "key id": claims["kid"],
            "session": claims["sid"],
        },
    )


@auth.command("sessions")
@click.argument("email")
@click.option("--all", "include_revoked", is_flag=True, help="Include ended sessions.")
@json_option
@pass_cli
def sessions(cli: CliContext, email: str, include_revoked: bool) -> None:
    """The sessions (refresh-token families) of user EMAIL."""
    from flx_auth import ListSessions

    found = send(cli, lambda: ListSessions(email=email, include_revoked=include_revoked))
    if cli.json:
        print_json([s.model_dump(mode="json") for s in found])
        return
    if not found:
        say(f"no {'' if include_revoked else 'active '}sessions for {email}")
    for s in found:
        where = f" from {s.address}" if s.address else ""
        say(f"{s.id}  {'active' if s.active else (s.revoked_reason or 'expired')}")
        say(
            f"  created {_when(s.created_at)}, last used {_when(s.last_used_at)}, "
            f"expires {_when(s.expires_at)}"
        )
        say(f"  {s.user_agent or 'unknown client'}{where}")


@auth.command("revoke")
@click.argument("session_id", required=False)
@click.option("--all", "all_of", metavar="EMAIL", help="Revoke every session of this user.")
@json_option
@pass_cli
def revoke(cli: CliContext, session_id: str | None, all_of: str | None) -> None:
    """Revoke session SESSION_ID, or every session of a user with --all EMAIL.

    Their refresh tokens stop working and their access tokens are blacklisted.
    """
    from flx_auth import RevokeAllSessions, RevokeSession

    if (session_id is None) == (all_of is None):
        fail("give either SESSION_ID or --all EMAIL", 2)
    if all_of is not None:
        email = all_of
        done = send(cli, lambda: RevokeAllSessions(email=email))
    else:
        sid = session_id or ""
        done = send(cli, lambda: RevokeSession(session_id=sid))
    if cli.json:
        print_json(done.model_dump(mode="json"))
    else:
        say(f"revoked {len(done.revoked)} session(s) of {done.email}")


@auth.command("rotate-keys")
@json_option
@pass_cli
def rotate_keys(cli: CliContext) -> None:
    """Make a new signing key; the previous one still verifies the tokens it signed."""
    from flx_auth import RotateKeys

    rotation = send(cli, RotateKeys)
    if cli.json:
        print_json(rotation.model_dump(mode="json"))
    else:
        previous = rotation.previous_kid or "none"
        say(f"new signing key {rotation.kid}; previous key {previous} still verifies")


@auth.command("logout")
@click.option("--access-token", default=None, help="The access token to revoke.")
@click.option("--refresh-token", default=None, help="The refresh token of the session to end.")
@json_option
@pass_cli
def logout(cli: CliContext, access_token: str | None, refresh_token: str | None) -> None:
    """Revoke an access token and end its session.

    Against a server (--server URL or FLX_SERVER): end the session `flx auth login` began
    and delete its tokens from $FLX_HOME/credentials.
    """
    from pydantic import SecretStr

    from flx_auth import Logout

    if cli.remote and access_token is None and refresh_token is None:
        return _remote_logout(cli)
    if access_token is None and refresh_token is None:
        fail("give --access-token, --refresh-token or both", 2)
    ended = send(
        cli,
        lambda: Logout(
            access_token=SecretStr(access_token) if access_token else None,
            refresh_token=SecretStr(refresh_token) if refresh_token else None,
        ),
    )
    print_json({"ended_sessions": ended}) if cli.json else say("logged out")


def _remote_logout(cli: CliContext) -> None:
    async def go(runtime: Runtime) -> bool:
        ended: bool = await runtime.app.client.logout()  # type: ignore[attr-defined]
        return ended

    ended = cli.run(go)
    if cli.json:
        print_json({"server": cli.server, "logged_out": ended})
    elif ended:
        say(f"logged out of {cli.server}")
    else:
        say(f"not logged in to {cli.server}")

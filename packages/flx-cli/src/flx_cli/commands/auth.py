"""`flx auth`: log in, verify tokens, list and revoke sessions, rotate the signing keys."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import click

from flx_cli.commands.user import read_password, send
from flx_cli.context import CliContext, fail, pass_cli
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
@click.option("--email", required=True, help="The user's email.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@json_option
@pass_cli
def login(cli: CliContext, email: str, password_stdin: bool) -> None:
    """Log in and print an access token and a refresh token."""
    from pydantic import SecretStr

    from flx_auth import Login

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
    """Revoke an access token and end its session."""
    from pydantic import SecretStr

    from flx_auth import Logout

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

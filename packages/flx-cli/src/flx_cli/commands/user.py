"""`flx user`: create, list, show, disable, enable, delete users; roles and passwords."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from flx_cli.output import print_json, print_mapping, print_table, say
from flx_cli.state import CliState, fail, pass_state, unwrap

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime

ROLES = ("admin", "operator", "viewer")


def send(state: CliState, make: Callable[[], Any]) -> Any:
    """Build the message (bad input: one line, exit 1), send it as the local system user."""

    async def go(runtime: Runtime) -> Any:
        from pydantic import ValidationError

        from flx_core.application import Command, describe_validation_error
        from flx_core.domain import Principal

        try:
            message = make()
        except ValidationError as exc:
            fail(describe_validation_error(exc))
        bus = runtime.app.commands if isinstance(message, Command) else runtime.app.queries
        return unwrap(await bus.execute(message, principal=Principal.system()))

    return state.run(go)


def read_password(from_stdin: bool, *, confirm: bool) -> str:
    """The password from stdin (one line), or asked twice, hidden, on a terminal."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            fail("no password on stdin")
        return password
    if not sys.stdin.isatty():
        fail("no terminal to ask for the password: pipe it in with --password-stdin", 2)
    entered: str = click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return entered


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _status(view: Any) -> str:
    if not view.active:
        return "disabled"
    if view.locked_until is not None:
        from datetime import UTC, datetime

        if view.locked_until > datetime.now(UTC):
            return f"locked until {_when(view.locked_until)}"
    return "active"


def _show(view: Any, state: CliState, message: str) -> None:
    if state.json:
        print_json(view.model_dump(mode="json"))
    else:
        say(message)


@click.group()
def user() -> None:
    """Manage users and their roles (admin, operator, viewer)."""


@user.command("create")
@click.argument("email")
@click.option(
    "--role",
    "roles",
    type=click.Choice(ROLES),
    multiple=True,
    help="Role to grant (repeatable); viewer when none is given.",
)
@click.option("--admin", is_flag=True, help="Shorthand for --role admin.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_state
def create(
    state: CliState, email: str, roles: tuple[str, ...], admin: bool, password_stdin: bool
) -> None:
    """Create user EMAIL (asks for the password twice on a terminal)."""
    from pydantic import SecretStr

    from flx_auth import CreateUser

    wanted = set(roles) | ({"admin"} if admin else set()) or {"viewer"}
    password = read_password(password_stdin, confirm=True)
    created = send(
        state,
        lambda: CreateUser(email=email, password=SecretStr(password), roles=frozenset(wanted)),
    )
    _show(created, state, f"created user {created.email} ({', '.join(created.roles)})")


@user.command("list")
@pass_state
def list_users(state: CliState) -> None:
    """Every user with roles, status and last login."""
    from flx_auth import ListUsers

    found = send(state, ListUsers)
    if state.json:
        print_json([u.model_dump(mode="json") for u in found])
        return
    print_table(
        "Users",
        ["email", "roles", "status", "last login"],
        [(u.email, ", ".join(u.roles), _status(u), _when(u.last_login_at)) for u in found],
    )


@user.command("show")
@click.argument("email")
@pass_state
def show(state: CliState, email: str) -> None:
    """Details of user EMAIL."""
    from flx_auth import GetUser

    found = send(state, lambda: GetUser(email=email))
    if state.json:
        print_json(found.model_dump(mode="json"))
        return
    data = found.model_dump(mode="json")
    data["roles"] = ", ".join(found.roles)
    print_mapping(f"User {found.email}", data)


@user.command("disable")
@click.argument("email")
@pass_state
def disable(state: CliState, email: str) -> None:
    """Refuse EMAIL's logins and tokens; ends their sessions."""
    from flx_auth import DisableUser

    _show(send(state, lambda: DisableUser(email=email)), state, f"disabled user {email}")


@user.command("enable")
@click.argument("email")
@pass_state
def enable(state: CliState, email: str) -> None:
    """Accept EMAIL again (also lifts a login lock)."""
    from flx_auth import EnableUser

    _show(send(state, lambda: EnableUser(email=email)), state, f"enabled user {email}")


@user.command("delete")
@click.argument("email")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete(state: CliState, email: str, yes: bool) -> None:
    """Delete user EMAIL and their sessions (the audit trail keeps their history)."""
    from flx_auth import DeleteUser

    if not yes and not state.json and sys.stdin.isatty():
        click.confirm(f"Delete user {email}?", abort=True)
    deleted = send(state, lambda: DeleteUser(email=email))
    print_json({"deleted": deleted.email}) if state.json else say(f"deleted user {email}")


@user.command("set-role")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@pass_state
def set_role(state: CliState, email: str, roles: tuple[str, ...]) -> None:
    """Replace EMAIL's roles with ROLES."""
    from flx_auth import SetUserRole

    changed = send(state, lambda: SetUserRole(email=email, roles=frozenset(roles)))
    _show(changed, state, f"user {changed.email} now has role(s) {', '.join(changed.roles)}")


@user.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@pass_state
def reset_password(state: CliState, email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; ends their sessions and lifts a login lock."""
    from pydantic import SecretStr

    from flx_auth import ResetPassword

    password = read_password(password_stdin, confirm=True)
    reset = send(state, lambda: ResetPassword(email=email, password=SecretStr(password)))
    _show(reset, state, f"password of {reset.email} reset; their sessions were ended")

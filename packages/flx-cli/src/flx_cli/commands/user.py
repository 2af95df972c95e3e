"""`flx user`: create, list, show, disable, enable, delete users; roles and passwords."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

from flx_cli.context import CliContext, fail, pass_cli, unwrap
from flx_cli.output import (
    Column,
    json_option,
    print_json,
    print_mapping,
    print_table,
    say,
    wide_option,
)

if TYPE_CHECKING:
    from flx_core.bootstrap import Runtime

ROLES = ("admin", "operator", "viewer")


def send(cli: CliContext, make: Callable[[], Any]) -> Any:
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

    return cli.run(go)


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


def _show(view: Any, cli: CliContext, message: str) -> None:
    if cli.json:
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
@json_option
@pass_cli
def create(
    cli: CliContext, email: str, roles: tuple[str, ...], admin: bool, password_stdin: bool
) -> None:
    """Create user EMAIL (asks for the password twice on a terminal)."""
    from pydantic import SecretStr

    from flx_auth import CreateUser

    wanted = set(roles) | ({"admin"} if admin else set()) or {"viewer"}
    password = read_password(password_stdin, confirm=True)
    created = send(
        cli,
        lambda: CreateUser(email=email, password=SecretStr(password), roles=frozenset(wanted)),
    )
    _show(created, cli, f"created user {created.email} ({', '.join(created.roles)})")


@user.command("list")
@wide_option
@json_option
@pass_cli
def list_users(cli: CliContext, wide: bool) -> None:
    """Every user with roles, status and last login."""
    from flx_auth import ListUsers

    found = send(cli, ListUsers)
    if cli.json:
        print_json([u.model_dump(mode="json") for u in found])
        return
    print_table(
        "Users",
        [
            Column("id", "id", wide=True),
            Column("email", "fixed"),
            "roles",
            "status",
            Column("last login", "time"),
            Column("created", "time", wide=True),
        ],
        [
            (u.id, u.email, ", ".join(u.roles), _status(u), u.last_login_at, u.created_at)
            for u in found
        ],
        wide=wide,
    )


@user.command("show")
@click.argument("email")
@json_option
@pass_cli
def show(cli: CliContext, email: str) -> None:
    """Details of user EMAIL."""
    from flx_auth import GetUser

    found = send(cli, lambda: GetUser(email=email))
    if cli.json:
        print_json(found.model_dump(mode="json"))
        return
    data = found.model_dump(mode="json")
    data["roles"] = ", ".join(found.roles)
    print_mapping(f"User {found.email}", data)


@user.command("disable")
@click.argument("email")
@json_option
@pass_cli
def disable(cli: CliContext, email: str) -> None:
    """Refuse EMAIL's logins and tokens; ends their sessions."""
    from flx_auth import DisableUser

    _show(send(cli, lambda: DisableUser(email=email)), cli, f"disabled user {email}")


@user.command("enable")
@click.argument("email")
@json_option
@pass_cli
def enable(cli: CliContext, email: str) -> None:
    """Accept EMAIL again (also lifts a login lock)."""
    from flx_auth import EnableUser

    _show(send(cli, lambda: EnableUser(email=email)), cli, f"enabled user {email}")


@user.command("delete")
@click.argument("email")
@click.option("--yes", "-y", is_flag=True, help="Do not ask for confirmation.")
@json_option
@pass_cli
def delete(cli: CliContext, email: str, yes: bool) -> None:
    """Delete user EMAIL and their sessions (the audit trail keeps their history)."""
    from flx_auth import DeleteUser

    if not yes and not cli.json and sys.stdin.isatty():
        click.confirm(f"Delete user {email}?", abort=True)
    deleted = send(cli, lambda: DeleteUser(email=email))
    print_json({"deleted": deleted.email}) if cli.json else say(f"deleted user {email}")


@user.command("set-role")
@click.argument("email")
@click.argument("roles", nargs=-1, required=True, type=click.Choice(ROLES))
@json_option
@pass_cli
def set_role(cli: CliContext, email: str, roles: tuple[str, ...]) -> None:
    """Replace EMAIL's roles with ROLES."""
    from flx_auth import SetUserRole

    changed = send(cli, lambda: SetUserRole(email=email, roles=frozenset(roles)))
    _show(changed, cli, f"user {changed.email} now has role(s) {', '.join(changed.roles)}")


@user.command("reset-password")
@click.argument("email")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@json_option
@pass_cli
def reset_password(cli: CliContext, email: str, password_stdin: bool) -> None:
    """Set a new password for EMAIL; ends their sessions and lifts a login lock."""
    from pydantic import SecretStr

    from flx_auth import ResetPassword

    password = read_password(password_stdin, confirm=True)
    reset = send(cli, lambda: ResetPassword(email=email, password=SecretStr(password)))
    _show(reset, cli, f"password of {reset.email} reset; their sessions were ended")

"""Roles grant exactly the permissions of the design; a user acts as their roles allow."""

from __future__ import annotations

from flx_auth import ROLE_PERMISSIONS, Role, User, permissions_for, principal_for
from flx_core.domain import Permission as P

READS = {P.PIPELINE_READ, P.PLUGIN_READ, P.EXECUTION_READ, P.STATE_READ, P.USER_READ, P.AUDIT_READ}


def test_admin_may_do_everything() -> None:
    assert ROLE_PERMISSIONS[Role.ADMIN] == frozenset(P)


def test_operator_reads_everything_and_runs_pipelines_but_manages_no_users() -> None:
    assert ROLE_PERMISSIONS[Role.OPERATOR] == READS | {
        P.PIPELINE_WRITE,
        P.PIPELINE_RUN,
        P.PLUGIN_MANAGE,
        P.STATE_WRITE,
        P.SCHEDULE_WRITE,
    }
    assert P.USER_MANAGE not in ROLE_PERMISSIONS[Role.OPERATOR]
    assert P.SYSTEM_ADMIN not in ROLE_PERMISSIONS[Role.OPERATOR]


def test_viewer_only_reads_pipelines_plugins_executions_and_state() -> None:
    assert ROLE_PERMISSIONS[Role.VIEWER] == {
        P.PIPELINE_READ,
        P.PLUGIN_READ,
        P.EXECUTION_READ,
        P.STATE_READ,
    }


def test_several_roles_grant_the_union() -> None:
    assert permissions_for([Role.VIEWER, Role.OPERATOR]) == ROLE_PERMISSIONS[Role.OPERATOR]
    assert permissions_for([]) == frozenset()


def test_principal_for_a_user_carries_email_roles_and_permissions() -> None:
    user = User(email="Ops@Example.com", password_hash="x", roles=frozenset({Role.OPERATOR}))
    principal = principal_for(user)
    assert principal.subject == "ops@example.com"
    assert principal.roles == {"operator"}
    assert principal.can(P.PIPELINE_RUN) and not principal.can(P.USER_MANAGE)
    assert not principal.is_system


def test_the_password_hash_is_not_in_a_users_repr() -> None:
    user = User(email="a@b.io", password_hash="$2b$04$secret-hash", roles=frozenset({Role.VIEWER}))
    assert "secret-hash" not in repr(user)

"""Staff roles and what each may do (the domain spec's "Staff roles"), as permissions.

Kept in code, not in flows/: flows/ is what staff edit and prove with conversation tests;
who may read residents' data or manage accounts is a security boundary, changed only by a
reviewed code change. Each role may do everything the role before it may."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    EDITOR = "editor"
    APPROVER = "approver"
    ADMIN = "admin"


class Permission(StrEnum):
    CONVERSATIONS = "conversations"  # answer handed-over residents, their transcript/bookings
    NOTICES_DRAFT = "notices.draft"
    NOTICES_REPORT = "notices.report"
    NOTICES_APPROVE = "notices.approve"  # approve, send and cancel
    ACCOUNTS = "accounts"  # manage staff accounts
    AUDIT = "audit"  # read and export the audit log


ROLE_ORDER = (Role.OPERATOR, Role.EDITOR, Role.APPROVER, Role.ADMIN)

_ADDED: dict[Role, frozenset[Permission]] = {
    Role.OPERATOR: frozenset({Permission.CONVERSATIONS}),
    Role.EDITOR: frozenset({Permission.NOTICES_DRAFT, Permission.NOTICES_REPORT}),
    Role.APPROVER: frozenset({Permission.NOTICES_APPROVE}),
    Role.ADMIN: frozenset({Permission.ACCOUNTS, Permission.AUDIT}),
}


def _cumulative() -> dict[Role, frozenset[Permission]]:
    granted: frozenset[Permission] = frozenset()
    table = {}
    for role in ROLE_ORDER:
        granted = granted | _ADDED[role]
        table[role] = granted
    return table


PERMISSIONS: dict[Role, frozenset[Permission]] = _cumulative()

# A second factor is required where an account can send to every resident or read the log.
TOTP_REQUIRED = frozenset({Role.APPROVER, Role.ADMIN})

LABELS = {
    Role.OPERATOR: "対応担当",
    Role.EDITOR: "作成担当",
    Role.APPROVER: "承認者",
    Role.ADMIN: "管理者",
}


def parse_role(text: str) -> Role:
    try:
        return Role(text)
    except ValueError:
        names = "|".join(role.value for role in ROLE_ORDER)
        raise ValueError(f"unknown role {text!r} (one of {names})") from None


def may(role: str, permission: Permission) -> bool:
    return permission in PERMISSIONS.get(Role(role), frozenset())

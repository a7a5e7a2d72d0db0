"""Roles and the named permissions each one holds (SR-2.10): the single source of truth.

Deny by default: a permission not listed for a role is refused by ``require``.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    admin = "admin"
    moderator = "moderator"
    user = "user"


class Permission(StrEnum):
    profile_own = "profile_own"  # own profile, sessions, MFA, export, deletion
    torrents_use = "torrents_use"  # own library, stream URLs, events, history
    catalog_search = "catalog_search"
    catalog_submit = "catalog_submit"
    catalog_report = "catalog_report"
    catalog_moderate = "catalog_moderate"
    admin_users = "admin_users"
    admin_audit = "admin_audit"
    admin_indexers = "admin_indexers"
    admin_torrents = "admin_torrents"


_USER = frozenset(
    {
        Permission.profile_own,
        Permission.torrents_use,
        Permission.catalog_search,
        Permission.catalog_submit,
        Permission.catalog_report,
    }
)
_MODERATOR = _USER | {Permission.catalog_moderate}
_ADMIN = _MODERATOR | {
    Permission.admin_users,
    Permission.admin_audit,
    Permission.admin_indexers,
    Permission.admin_torrents,
}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.user: _USER,
    Role.moderator: _MODERATOR,
    Role.admin: _ADMIN,
}

# Permissions a plain user does not hold: an admin or moderator needs MFA enabled to use them (SR-2.11).
PRIVILEGED_PERMISSIONS: frozenset[Permission] = _ADMIN - _USER

MFA_REQUIRED_ROLES: frozenset[Role] = frozenset({Role.admin, Role.moderator})


def role_allows(role: Role, permission: Permission) -> bool:
    return permission in ROLE_PERMISSIONS.get(role, frozenset())

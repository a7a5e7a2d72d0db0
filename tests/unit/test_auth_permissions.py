"""The role → permission map is exactly the contract (SR-2.10, deny by default)."""

from __future__ import annotations

from torrent_streamer.auth.permissions import (
    PRIVILEGED_PERMISSIONS,
    ROLE_PERMISSIONS,
    Permission,
    Role,
    role_allows,
)

USER = {"profile_own", "torrents_use", "catalog_search", "catalog_submit", "catalog_report"}
ADMIN_ONLY = {"admin_users", "admin_audit", "admin_indexers", "admin_torrents"}


def test_the_map_matches_the_contract() -> None:
    assert {p.value for p in ROLE_PERMISSIONS[Role.user]} == USER
    assert {p.value for p in ROLE_PERMISSIONS[Role.moderator]} == USER | {"catalog_moderate"}
    assert {p.value for p in ROLE_PERMISSIONS[Role.admin]} == {p.value for p in Permission}
    assert {p.value for p in PRIVILEGED_PERMISSIONS} == ADMIN_ONLY | {"catalog_moderate"}


def test_unlisted_permissions_are_denied() -> None:
    for permission in ADMIN_ONLY:
        assert not role_allows(Role.moderator, Permission(permission))
        assert not role_allows(Role.user, Permission(permission))
    assert not role_allows(Role.user, Permission.catalog_moderate)

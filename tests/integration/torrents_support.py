"""Helpers for the torrents/streaming API tests: signed-in users, a seeded MemoryEngine, media.

Until the accounts branch is merged, a minimal stand-in of the auth contract (COMMON-BRIEF) is
installed; once ``torrent_streamer.auth`` exists the real tokens and sessions are used instead.
"""

from __future__ import annotations

import importlib.util
import random
import sys
import types
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import httpx
from fastapi import Depends, FastAPI, Request

from torrent_streamer.core.errors import Forbidden, Unauthorized
from torrent_streamer.engine import MemoryEngine

REAL_AUTH = importlib.util.find_spec("torrent_streamer.auth") is not None
REVOKED: set[uuid.UUID] = set()


def _install_contract_stand_in() -> None:
    class Role(StrEnum):
        admin = "admin"
        moderator = "moderator"
        user = "user"

    class Permission(StrEnum):
        torrents_use = "torrents_use"
        admin_torrents = "admin_torrents"

    @dataclass(frozen=True)
    class Principal:
        user_id: uuid.UUID
        role: Role
        session_id: uuid.UUID
        mfa_enabled: bool

    def require(permission: Permission) -> Any:
        async def dependency(request: Request) -> Principal:
            scheme, _, value = request.headers.get("authorization", "").partition(" ")
            parts = value.split(".")
            if scheme.lower() != "bearer" or len(parts) != 4 or parts[0] != "standin":
                raise Unauthorized("Authentication required.")
            principal = Principal(uuid.UUID(parts[1]), Role(parts[3]), uuid.UUID(parts[2]), True)
            if principal.session_id in REVOKED:
                raise Unauthorized("Session revoked.")
            if permission is Permission.admin_torrents and principal.role is not Role.admin:
                raise Forbidden("Insufficient permission.")
            return principal

        return Depends(dependency)

    async def public_marker() -> None:
        return None

    def public_route() -> Any:
        return Depends(public_marker)

    async def session_is_active(session: Any, session_id: uuid.UUID, now: Any) -> bool:
        return session_id not in REVOKED

    package = types.ModuleType("torrent_streamer.auth")
    package.__path__ = []
    modules = {
        "dependencies": {"Principal": Principal, "require": require, "public_route": public_route},
        "permissions": {"Permission": Permission, "Role": Role},
        "service": {"session_is_active": session_is_active},
    }
    sys.modules["torrent_streamer.auth"] = package
    for name, attributes in modules.items():
        module = types.ModuleType(f"torrent_streamer.auth.{name}")
        module.__dict__.update(attributes)
        sys.modules[module.__name__] = module
        setattr(package, name, module)


if not REAL_AUTH:
    _install_contract_stand_in()


@dataclass(frozen=True)
class Authed:
    user_id: uuid.UUID
    session_id: uuid.UUID
    headers: dict[str, str]


async def login(client: httpx.AsyncClient, role: str = "user") -> Authed:
    if REAL_AUTH:
        from tests.auth_helpers import register_and_login  # type: ignore[import-not-found,unused-ignore]

        user = await register_and_login(client, role=role)
        me = await client.get("/api/v1/auth/sessions", headers=user.headers)
        session_id = uuid.UUID(me.json()["items"][0]["id"]) if me.status_code == 200 else uuid.uuid4()
        return Authed(uuid.UUID(str(user.user_id)), session_id, dict(user.headers))
    user_id, session_id = uuid.uuid4(), uuid.uuid4()
    return Authed(user_id, session_id, {"Authorization": f"Bearer standin.{user_id}.{session_id}.{role}"})


async def revoke_session(client: httpx.AsyncClient, user: Authed) -> None:
    if REAL_AUTH:
        response = await client.post("/api/v1/auth/logout-all", headers=user.headers)
        assert response.status_code == 204
        return
    REVOKED.add(user.session_id)


def engine_of(app: FastAPI) -> MemoryEngine:
    engine = app.state.services.extras["engine"]
    assert isinstance(engine, MemoryEngine)
    return engine


@dataclass(frozen=True)
class SeededMedia:
    torrent: bytes
    files: dict[str, bytes]

    def index(self, name: str) -> int:
        return list(self.files).index(name)


SRT = "1\r\n00:00:01,000 --> 00:00:02,000\r\nCafé\r\n".encode("cp1252")


def seed_media(engine: MemoryEngine, name: str = "Movie", seed: int = 1) -> SeededMedia:
    rnd = random.Random(seed)
    files = {
        "movie.mp4": rnd.randbytes(300_000),
        "movie.srt": SRT,
        "notes.txt": b"plain text, not a subtitle",
    }
    torrent = engine.seed(name, list(files.items()), piece_length=16384)
    return SeededMedia(torrent, files)

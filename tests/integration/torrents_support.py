"""Helpers for the torrents/streaming API tests: signed-in users (real accounts and tokens),
the app's MemoryEngine, and small seeded media."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from tests.auth_helpers import register_and_login
from torrent_streamer.engine import MemoryEngine
from torrent_streamer.streaming.service import signer_for
from torrent_streamer.streaming.tokens import StreamClaims


@dataclass(frozen=True)
class Authed:
    user_id: uuid.UUID
    session_id: uuid.UUID
    headers: dict[str, str]


async def login(client: httpx.AsyncClient, role: str = "user") -> Authed:
    """A registered, signed-in user (admins with MFA enrolled) and the session id (``sid``) of its token."""
    user = await register_and_login(client, role=role)
    claims = jwt.decode(user.access_token, options={"verify_signature": False})  # our own token: read sid only
    return Authed(user.user_id, uuid.UUID(claims["sid"]), dict(user.headers))


async def revoke_session(client: httpx.AsyncClient, user: Authed) -> None:
    response = await client.post("/api/v1/auth/logout-all", headers=user.headers)
    assert response.status_code == 204, response.text


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


class AsgiCall:
    """One request straight through the ASGI app, keeping every message (httpx's transport hides a short
    body) and, with ``hold``, acting as a client that stops reading after the first body chunk."""

    def __init__(self, app: FastAPI, path: str, headers: dict[str, str] | None = None, hold: bool = False) -> None:
        self.app, self.path, self.hold = app, path, hold
        self.headers = [(b"host", b"testserver")] + [
            (k.lower().encode(), v.encode()) for k, v in (headers or {}).items()
        ]
        self.sent: list[dict[str, Any]] = []
        self.body_started = asyncio.Event()
        self.release = asyncio.Event()
        self.leave = asyncio.Event()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")

    async def run(self) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": self.path,
            "raw_path": self.path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": self.headers,
            "client": ("127.0.0.1", 50000),
            "server": ("testserver", 80),
        }
        requested = False

        async def receive() -> dict[str, Any]:
            nonlocal requested
            if not requested:
                requested = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await self.leave.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            self.sent.append(message)
            if message["type"] == "http.response.body" or message.get("status", 200) >= 400:
                self.body_started.set()
                if self.hold:
                    await self.release.wait()

        await self.app(scope, receive, send)


def mint_stream_path(app: FastAPI, user: Authed, entry_id: str, index: int, info_hash: str) -> str:
    """A genuine stream URL path for any file, minted like the service does: the API issues URLs only
    for playable and subtitle files, so this reaches the serving path's own rules (defence in depth)."""
    services = app.state.services
    expires = (services.clock.now() + timedelta(hours=1)).replace(microsecond=0)
    claims = StreamClaims(user.user_id, user.session_id, uuid.UUID(entry_id), index, expires, info_hash.lower())
    return f"/api/v1/stream/{info_hash.lower()}/{signer_for(services).issue(claims)}"

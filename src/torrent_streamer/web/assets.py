"""Self-hosted static files, loaded once at start-up: bytes, content type, SHA-384 integrity, URL.

URLs carry the content digest (``/static/<digest>/css/base.css``) so they can be cached forever.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

STATIC_DIR = Path(__file__).parent / "static"
STATIC_PREFIX = "/static"
IMMUTABLE_CACHE = "public, max-age=31536000, immutable"
_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class Asset:
    name: str  # relative path under static/, with forward slashes
    body: bytes
    content_type: str
    integrity: str  # "sha384-<base64>"
    digest: str  # short hex digest of the content, part of the URL

    @property
    def url(self) -> str:
        return f"{STATIC_PREFIX}/{self.digest}/{self.name}"


class StaticAssets:
    """Every file under ``static/``, immutable for the life of the process."""

    def __init__(self, assets: dict[str, Asset]) -> None:
        self._assets = assets

    @classmethod
    def load(cls, root: Path = STATIC_DIR) -> StaticAssets:
        assets: dict[str, Asset] = {}
        for path in sorted(root.rglob("*")):
            if not path.is_file():
                continue
            name = path.relative_to(root).as_posix()
            body = path.read_bytes()
            content_type = _TYPES.get(path.suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"
            sha384 = hashlib.sha384(body).digest()
            assets[name] = Asset(
                name=name,
                body=body,
                content_type=content_type,
                integrity="sha384-" + base64.b64encode(sha384).decode("ascii"),
                digest=hashlib.sha256(body).hexdigest()[:16],
            )
        return cls(assets)

    def get(self, name: str) -> Asset:
        """The asset by name; a template naming a missing file is a bug, so this raises KeyError."""
        return self._assets[name]

    def lookup(self, digest: str, name: str) -> Asset | None:
        """The asset served at ``/static/<digest>/<name>``, or None (wrong digest = stale or forged URL)."""
        asset = self._assets.get(name)
        return asset if asset is not None and asset.digest == digest else None

    def __iter__(self) -> Iterator[Asset]:
        return iter(self._assets.values())

"""Stream URLs: every URL served from a torrent's bytes is ``/api/v1/stream/{info_hash}/{token}[/…]``.

The info-hash is the first segment so a load balancer can hash on it (one node per torrent);
build every such URL with ``stream_url`` and parse the routing key with ``routing_info_hash``.
"""

from __future__ import annotations

import re
from urllib.parse import quote

from starlette.requests import Request

from torrent_streamer.core.state import Services

STREAM_PREFIX = "/api/v1/stream/"
INFO_HASH_PATTERN = r"^(?:[0-9a-fA-F]{40}|[0-9a-fA-F]{64})$"
_INFO_HASH = re.compile(INFO_HASH_PATTERN)


def absolute_url(request: Request, path: str) -> str:
    """This node's public base URL (``TS_PUBLIC_URL``) or the request's own, plus ``path``."""
    services: Services = request.app.state.services
    base = services.settings.public_url or str(request.base_url)
    return base.rstrip("/") + path


def stream_url(request: Request, info_hash: str, token: str, *tail: str) -> str:
    """The absolute URL of a stream resource: the file itself, or ``tail`` below it (HLS, subtitles).

    ``info_hash`` is the engine's key (v1 when the torrent has one); each ``tail`` part is one
    path segment, percent-encoded here.
    """
    path = request.app.url_path_for("stream_file", info_hash=info_hash.lower(), token=token)
    return absolute_url(request, str(path) + "".join("/" + quote(part, safe="") for part in tail))


def routing_info_hash(path: str) -> str | None:
    """The info-hash segment of a stream path (what the balancer hashes on), or None."""
    if not path.startswith(STREAM_PREFIX):
        return None
    segment = path[len(STREAM_PREFIX) :].split("/", 1)[0]
    return segment.lower() if _INFO_HASH.match(segment) else None


def hls_master_url(request: Request, info_hash: str, token: str, variant: str) -> str:
    """The HLS master playlist of one variant (``…/{token}/hls/{variant}/master.m3u8``)."""
    return stream_url(request, info_hash, token, "hls", variant, "master.m3u8")


def subtitle_url(request: Request, info_hash: str, token: str, ref: str) -> str:
    """``ref``: ``e<stream index>`` (embedded track) or ``f<file index>`` (a subtitle file of the torrent)."""
    return stream_url(request, info_hash, token, "subtitles", f"{ref}.vtt")


def subtitle_playlist_path(ref: str) -> str:
    """From a master playlist at ``…/{token}/hls/{variant}/master.m3u8``, the relative subtitle playlist."""
    return f"../../subtitles/{ref}.m3u8"

"""Every stream URL the service hands out is built here (raw stream, HLS, subtitles), from one token.

One place, so a change of the URL scheme (e.g. a node prefix) touches one file.
"""

from __future__ import annotations

from starlette.requests import Request

from torrent_streamer.core.state import Services


def absolute_url(request: Request, services: Services, path: str) -> str:
    """This node's public base URL (``TS_PUBLIC_URL``) or the request's own, plus ``path``."""
    base = services.settings.public_url or str(request.base_url)
    return base.rstrip("/") + path


def stream_url(request: Request, services: Services, token: str) -> str:
    return absolute_url(request, services, request.app.url_path_for("stream_file", token=token))


def hls_master_url(request: Request, services: Services, token: str, variant: str) -> str:
    return absolute_url(request, services, request.app.url_path_for("hls_master", token=token, variant=variant))


def subtitle_url(request: Request, services: Services, token: str, ref: str) -> str:
    """``ref``: ``e<stream index>`` (embedded track) or ``f<file index>`` (a subtitle file of the torrent)."""
    return absolute_url(request, services, request.app.url_path_for("stream_subtitle_vtt", token=token, ref=ref))


def subtitle_playlist_path(ref: str) -> str:
    """From a master playlist at ``…/{token}/hls/{variant}/master.m3u8``, the relative subtitle playlist."""
    return f"../../subtitles/{ref}.m3u8"

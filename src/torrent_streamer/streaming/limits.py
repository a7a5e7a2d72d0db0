"""Address-keyed limits on streaming (issue 12, item 2): stream bodies opened and stream URLs minted,
each counted per client prefix (IPv4 /32, IPv6 /64 from settings) through ``core.deps.ip_rate_limit``.

A player sends many Range requests per playback, each one a body of its own, so the open limit is
generous (``TS_STREAM_OPEN_LIMIT``, 600/minute); minting runs the database checks and often a probe
(``TS_STREAM_MINT_LIMIT``, 120/minute). Both answer 429 with ``Retry-After``.
"""

from __future__ import annotations

from fastapi import Request

from torrent_streamer.core.deps import ip_rate_limit, services_of

OPEN_LIMIT_NAME = "stream_open_ip"
MINT_LIMIT_NAME = "stream_mint_ip"


async def count_stream_open(request: Request) -> None:
    """One stream body about to be opened by this client (HEAD and refused requests open none)."""
    settings = services_of(request).settings
    await ip_rate_limit(OPEN_LIMIT_NAME, settings.stream_open_limit)(request)


async def count_stream_mint(request: Request) -> None:
    """Route dependency of the stream-URL and playback POSTs: one signed URL minted by this client."""
    settings = services_of(request).settings
    await ip_rate_limit(MINT_LIMIT_NAME, settings.stream_mint_limit)(request)

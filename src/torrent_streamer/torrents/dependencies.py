"""Scoped access for the torrents and streaming routes: who may use torrents, who may take them down."""

from __future__ import annotations

from typing import Annotated

from torrent_streamer.auth.dependencies import Principal, require
from torrent_streamer.auth.permissions import Permission

TorrentUser = Annotated[Principal, require(Permission.torrents_use)]
TorrentAdmin = Annotated[Principal, require(Permission.admin_torrents)]

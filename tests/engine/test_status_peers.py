"""The engine's status reports its real connections: never "0 peers" beside a download rate.

libtorrent's payload rates are moving averages that outlive the connections (a finished torrent drops
its seeds at once); the status must not show a rate without a connected peer.
"""

from __future__ import annotations

import asyncio

import pytest

from torrent_streamer.engine import LibtorrentEngine

from .swarm import Media, Seeder

pytestmark = [pytest.mark.asyncio, pytest.mark.engine]
SAMPLES = 300  # 30 s at 0.1 s: bounded


async def test_rate_is_never_reported_without_a_connected_peer(
    engine: LibtorrentEngine, slow_media: Media, slow_seeder: Seeder
) -> None:
    # a throttled seeder (768 KiB/s): the download lasts seconds, so the batched status is sampled
    # while it runs, however fast the read path is
    media, seeder = slow_media, slow_seeder
    info = await engine.add_torrent_file(media.torrent)
    engine.connect_peer(info.info_hash, "127.0.0.1", seeder.port)
    index = media.file_index("movie.mp4")
    size = len(media.files["movie.mp4"])
    seen_downloading_with_peer = False
    seen_done = 0
    async with await engine.open_reader(info.info_hash, index) as reader:
        offset = 0
        for _ in range(SAMPLES):
            if offset < size:
                offset += len(await reader.read(offset, 256 * 1024))
            status = engine.status(info.info_hash)
            assert not (status.download_rate > 0 and status.peers == 0), status
            assert not (status.upload_rate > 0 and status.peers == 0), status
            if status.peers > 0 and status.state == "downloading":
                seen_downloading_with_peer = True
            if offset >= size and status.state == "seeding":
                seen_done += 1
                if seen_done >= 30:  # three seconds after finishing: the decaying average is caught
                    break
            await asyncio.sleep(0.1)
    assert seen_downloading_with_peer
    assert seen_done >= 30

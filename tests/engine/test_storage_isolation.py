"""Each torrent keeps its data in its own directory (issue 12, item 1; SR-3.5).

Two different torrents with the same inner path (`Show/episode.mp4`) and different bytes, added by two
users through the HTTP API with the real engine: both stream byte-exact, and deleting one leaves the
other's data intact at its start and at its end.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest
from fastapi import FastAPI

from tests.integration import torrents_support as ts
from torrent_streamer.engine import LibtorrentEngine

from .conftest import leech_config
from .swarm import Media, Seeder, fake_mp4, make_media
from .test_stream_e2e import Player, running

pytestmark = pytest.mark.engine
EPISODE = "episode.mp4"


def _show(root: Path, seed: int) -> Media:
    files = {
        EPISODE: fake_mp4(2 * 1024 * 1024, seed),
        "episode.srt": f"1\n00:00:01,000 --> 00:00:02,000\n{seed}\n".encode(),
        "extras/index.html": b"<script>alert(document.domain)</script>",
    }
    return make_media(root, name="Show", files=files)


@pytest.fixture
def shows(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[tuple[Media, Seeder]]]:
    pairs = []
    for seed in (11, 12):
        media = _show(tmp_path_factory.mktemp(f"show{seed}"), seed)
        pairs.append((media, Seeder(media)))
    assert pairs[0][0].info_hash != pairs[1][0].info_hash
    assert pairs[0][0].files[EPISODE] != pairs[1][0].files[EPISODE]
    yield pairs
    for _, seeder in pairs:
        seeder.close()


async def _whole(player: Player, media: Media) -> bytes:
    url = await player.url(media.file_index(EPISODE))
    response = await player.client.get(url)
    assert response.status_code == 200, response.text
    return response.content


async def test_same_inner_path_in_two_torrents_never_shares_a_file(
    make_app: Callable[[], FastAPI], shows: list[tuple[Media, Seeder]]
) -> None:
    (media_a, _), (media_b, _) = shows
    app = make_app()
    async with running(app) as (client, engine):
        players: list[Player] = []
        for media, seeder in shows:
            user = await ts.login(client)
            response = await client.post(
                "/api/v1/torrents", headers=user.headers, files={"torrent": ("show.torrent", media.torrent)}
            )
            assert response.status_code == 201, response.text
            engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
            players.append(Player(client, user, response.json()["id"]))
        a, b = players
        assert await _whole(a, media_a) == media_a.files[EPISODE]
        assert await _whole(b, media_b) == media_b.files[EPISODE]
        assert await _whole(a, media_a) == media_a.files[EPISODE]  # B's download overwrote nothing of A's

        deleted = await client.delete(f"/api/v1/torrents/{a.torrent_id}", headers=a.user.headers)
        assert deleted.status_code == 204, deleted.text

        content = media_b.files[EPISODE]
        url = await b.url(media_b.file_index(EPISODE))
        size = len(content)
        for start, end in [(0, 65_535), (size - 65_536, size - 1)]:
            response = await b.range(url, start, end)
            assert response.status_code == 206
            assert response.content == content[start : end + 1]
        assert await _whole(b, media_b) == content
        html = media_b.file_index("extras/index.html")
        refused = await b.client.post(f"/api/v1/torrents/{b.torrent_id}/files/{html}/stream", headers=b.user.headers)
        assert refused.status_code == 422  # no URL for a file that is not media (issue 17) ...
        minted = ts.mint_stream_path(app, b.user, b.torrent_id, html, media_b.info_hash)
        page = await b.client.get(minted)  # ... and a genuine token still never renders (item 7, real engine)
        assert page.content == media_b.files["extras/index.html"]
        assert page.headers["content-type"] == "application/octet-stream"
        assert page.headers["content-disposition"].startswith("attachment;")
        downloads: Any = engine.config.download_dir
        assert (downloads / media_b.info_hash / "Show" / EPISODE).read_bytes() == content
        assert not (downloads / media_a.info_hash).exists()


async def test_data_in_the_old_shared_layout_moves_into_its_own_directory(
    tmp_path: Path, media: Media, seeder: Seeder
) -> None:
    """Resume data from before per-torrent directories: the data moves, is re-verified, and is kept."""
    cfg = leech_config(tmp_path, resume_save_interval=3600.0)
    engine = LibtorrentEngine(cfg)
    await engine.start()
    key = (await engine.add_torrent_file(media.torrent)).info_hash
    engine.connect_peer(key, "127.0.0.1", seeder.port)
    sample = media.files["extras/sample.bin"]
    async with await engine.open_reader(key, media.file_index("extras/sample.bin")) as r:
        pos = 0
        while pos < r.size:
            pos += len(await r.read(pos, 1 << 20))
    await engine.close()
    # Rewrite it as the old layout: files directly under download_dir, resume data saying so.
    for path in (cfg.download_dir / key).iterdir():
        path.rename(cfg.download_dir / path.name)
    (cfg.download_dir / key).rmdir()
    resume = cfg.state_dir / "resume" / f"{key}.fastresume"
    data = lt.bdecode(resume.read_bytes())
    data[b"save_path"] = str(cfg.download_dir).encode()
    resume.write_bytes(lt.bencode(data))

    again = LibtorrentEngine(cfg)
    await again.start()
    try:
        st = await again.wait_status(key, lambda s: s.state not in ("checking", "metadata"), 30)
        assert st.downloaded_bytes >= len(sample)
        assert (cfg.download_dir / key / media.name / "extras" / "sample.bin").read_bytes() == sample
        assert not (cfg.download_dir / media.name).exists()
        async with await again.open_reader(key, media.file_index("extras/sample.bin")) as r:
            assert await r.read(5, 100) == sample[5:105]
        assert again.payload_downloaded(key) == 0
    finally:
        await again.close()

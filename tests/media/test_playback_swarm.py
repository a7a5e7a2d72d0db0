"""Playback against the real libtorrent engine, the clips seeded from a loopback swarm (TCP only).

The probe works on a partly downloaded file (a throttled seeder); a remuxed segment at 70 % decodes
without the earlier segments being made; the embedded SRT track comes out as WebVTT.
"""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import libtorrent as lt
import pytest
from fastapi import FastAPI

from tests import support
from tests.engine.swarm import PIECE, Media, Seeder
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.engine import LibtorrentEngine
from torrent_streamer.media.service import MediaService

from .clips import CLIPS, CUES, decodes, ffprobe
from .test_decision import CHROME_UA

pytestmark = [pytest.mark.engine, pytest.mark.slow]


@pytest.fixture(scope="module")
def swarm_media(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("swarm")
    top = root / "Clips"
    top.mkdir()
    files = {}
    for name in CLIPS:
        shutil.copy(clips[name], top / name)
        files[name] = (top / name).read_bytes()
    entries = [lt.create_file_entry(f"Clips/{name}", len(data)) for name, data in files.items()]
    ct = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(root))
    torrent = bytes(lt.bencode(ct.generate()))
    return Media(root, "Clips", files, torrent, str(lt.torrent_info(torrent).info_hashes().v1))


@pytest.fixture
def throttled_seeder(swarm_media: Media) -> Iterator[Seeder]:
    s = Seeder(swarm_media, upload_rate_limit=256 * 1024)
    yield s
    s.close()


@pytest.fixture
def app(settings_factory: Callable[..., Any], clock: FrozenClock) -> FastAPI:
    settings = settings_factory(**support.LOOPBACK_ENGINE)
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app, timeout=120.0) as http:
        yield http


async def add(client: httpx.AsyncClient, app: FastAPI, media: Media, seeder: Seeder) -> tuple[ts.Authed, str]:
    user = await ts.login(client)
    response = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("c", media.torrent)})
    assert response.status_code == 201, response.text
    engine = app.state.services.extras["engine"]
    assert isinstance(engine, LibtorrentEngine)
    engine.connect_peer(media.info_hash, "127.0.0.1", seeder.port)
    return user, response.json()["id"]


async def test_probe_and_remux_on_a_partly_downloaded_torrent(
    client: httpx.AsyncClient, app: FastAPI, swarm_media: Media, throttled_seeder: Seeder, tmp_path: Path
) -> None:
    user, torrent_id = await add(client, app, swarm_media, throttled_seeder)
    names = list(swarm_media.files)
    headers = {**user.headers, "User-Agent": CHROME_UA}
    # moov at the end: the probe needs the head and the tail pieces, fetched first.
    response = await client.post(
        f"/api/v1/torrents/{torrent_id}/files/{names.index('moov-at-end.mp4')}/playback", headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["mode"] == "direct"
    assert response.json()["media"]["video"][0]["codec"] == "h264"
    engine = app.state.services.extras["engine"]
    assert engine.status(swarm_media.info_hash).progress < 1.0  # probed before the download finished

    mkv = names.index("h264-ac3.mkv")
    answer = (await client.post(f"/api/v1/torrents/{torrent_id}/files/{mkv}/playback", headers=headers)).json()
    assert answer["mode"] == "remux"
    base = urlsplit(answer["url"]).path.rsplit("/", 1)[0]
    playlist = (await client.get(f"{base}/video.m3u8")).text
    count = sum(1 for line in playlist.splitlines() if line.endswith(".m4s"))
    late = int(count * 0.7)
    init = await client.get(f"{base}/init.mp4")
    segment = await client.get(f"{base}/{late}.m4s")
    assert init.status_code == 200
    assert segment.status_code == 200, segment.text
    path = tmp_path / "late.mp4"
    path.write_bytes(init.content + segment.content)
    codecs = sorted(str(s["codec_name"]) for s in ffprobe(path)["streams"])  # type: ignore[attr-defined]
    assert codecs == ["aac", "h264"]
    assert decodes(path)
    media = app.state.services.extras["media"]
    assert isinstance(media, MediaService)
    key = (swarm_media.info_hash, mkv, base.rsplit("/", 1)[1])
    assert min(int(p.stem) for p in media.store.folder(key).glob("*.m4s")) == late

    vtt = await client.get(urlsplit(answer["subtitles"][0]["url"]).path)
    assert vtt.status_code == 200
    assert all(cue in vtt.text for cue in CUES)

    # The torrent's status shows the active reader's playback figures.
    detail = (await client.get(f"/api/v1/torrents/{torrent_id}", headers=user.headers)).json()
    assert detail["playback"]["first_segment_seconds"] is not None


async def test_segments_are_evicted_with_the_torrent(
    client: httpx.AsyncClient, app: FastAPI, swarm_media: Media, throttled_seeder: Seeder
) -> None:
    user, torrent_id = await add(client, app, swarm_media, throttled_seeder)
    mkv = list(swarm_media.files).index("h264-ac3.mkv")
    headers = {**user.headers, "User-Agent": CHROME_UA}
    answer = (await client.post(f"/api/v1/torrents/{torrent_id}/files/{mkv}/playback", headers=headers)).json()
    base = urlsplit(answer["url"]).path.rsplit("/", 1)[0]
    assert (await client.get(f"{base}/0.m4s")).status_code == 200
    media = app.state.services.extras["media"]
    assert (media.store.root / swarm_media.info_hash).is_dir()
    assert (await client.delete(f"/api/v1/torrents/{torrent_id}", headers=user.headers)).status_code == 204
    assert await media.sweep() == [swarm_media.info_hash]
    assert not (media.store.root / swarm_media.info_hash).exists()
    assert media.pool.active == 0


@pytest.fixture
def fast_seeder(swarm_media: Media) -> Iterator[Seeder]:
    s = Seeder(swarm_media, upload_rate_limit=20 * 1024 * 1024)
    yield s
    s.close()


async def test_every_file_of_a_magnet_probes_in_turn(
    client: httpx.AsyncClient, app: FastAPI, swarm_media: Media, fast_seeder: Seeder
) -> None:
    """A magnet (metadata from the peer, one file preloaded) answers /playback for each of its files.

    The preloaded file finishes first, which makes the torrent "finished": libtorrent then dropped its
    seed and did not dial it again, so every other file's probe waited 60 s and failed (issue 13).
    """
    user = await ts.login(client)
    magnet = f"magnet:?xt=urn:btih:{swarm_media.info_hash}&dn=Clips&x.pe=127.0.0.1:{fast_seeder.port}"
    added = await client.post("/api/v1/torrents", headers=user.headers, json={"magnet": magnet})
    assert added.status_code == 201, added.text
    torrent_id = added.json()["id"]
    engine = app.state.services.extras["engine"]
    assert isinstance(engine, LibtorrentEngine)
    await engine.wait_status(swarm_media.info_hash, lambda s: s.state == "seeding", 60)  # preload done
    headers = {**user.headers, "User-Agent": CHROME_UA}
    modes = {}
    for index, name in enumerate(swarm_media.files):
        response = await client.post(f"/api/v1/torrents/{torrent_id}/files/{index}/playback", headers=headers)
        assert response.status_code == 200, (name, response.text)
        modes[name] = response.json()["mode"]
    assert modes == {
        "faststart.mp4": "direct",
        "moov-at-end.mp4": "direct",
        "h264-ac3.mkv": "remux",
        "hevc-aac.mkv": "transcode",
        "vp9-opus.webm": "direct",
    }

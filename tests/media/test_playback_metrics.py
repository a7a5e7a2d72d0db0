"""Playback metrics from a real flow: the MKV clip from a loopback swarm, played over HLS, then a far seek.

2-second segments so that a seek can land beyond the encoder's read-ahead: the time to first segment
and the seek-to-segment histograms, the restart counter and the active-encoders histogram appear in
``/metrics``, and the torrent's status carries the same figures for its active reader.
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
from prometheus_client.parser import text_string_to_metric_families

from tests import support
from tests.engine.swarm import PIECE, Media, Seeder
from tests.integration import torrents_support as ts
from torrent_streamer.app import create_app
from torrent_streamer.core.clock import FrozenClock
from torrent_streamer.engine import LibtorrentEngine

from .test_decision import CHROME_UA

pytestmark = [pytest.mark.engine, pytest.mark.slow]
CLIP = "h264-ac3.mkv"  # remux for Chrome: copied video cut on its keyframes (one every 2 s)
METRICS_TOKEN = "metrics-" + "t" * 32
READ_AHEAD = 2


@pytest.fixture(scope="module")
def clip_media(clips: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Media:
    root = tmp_path_factory.mktemp("metrics-swarm")
    (root / "Clip").mkdir()
    shutil.copy(clips[CLIP], root / "Clip" / CLIP)
    data = (root / "Clip" / CLIP).read_bytes()
    ct = lt.create_torrent([lt.create_file_entry(f"Clip/{CLIP}", len(data))], PIECE, lt.create_torrent.v1_only)
    lt.set_piece_hashes(ct, str(root))
    torrent = bytes(lt.bencode(ct.generate()))
    return Media(root, "Clip", {CLIP: data}, torrent, str(lt.torrent_info(torrent).info_hashes().v1))


@pytest.fixture
def seeder(clip_media: Media) -> Iterator[Seeder]:
    s = Seeder(clip_media, upload_rate_limit=20 * 1024 * 1024)
    yield s
    s.close()


@pytest.fixture
def app(settings_factory: Callable[..., Any], clock: FrozenClock) -> FastAPI:
    settings = settings_factory(
        **support.LOOPBACK_ENGINE,
        metrics_token=METRICS_TOKEN,
        media_segment_seconds=2.0,
        media_read_ahead_segments=READ_AHEAD,
        media_encoder_idle_seconds=300.0,  # the seek's encoder is still running when the status is read
    )
    return create_app(settings, clock=clock)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with support.client_for(app, timeout=120.0) as http:
        yield http


async def samples(client: httpx.AsyncClient) -> dict[str, float]:
    """Every sample of ``/metrics`` (read with the bearer token) by name, for the unlabelled series."""
    response = await client.get("/metrics", headers={"authorization": f"Bearer {METRICS_TOKEN}"})
    assert response.status_code == 200
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if not sample.labels
    }


async def test_a_played_and_seeked_hls_variant_records_the_playback_metrics(
    client: httpx.AsyncClient, app: FastAPI, clip_media: Media, seeder: Seeder
) -> None:
    user = await ts.login(client)
    added = await client.post("/api/v1/torrents", headers=user.headers, files={"torrent": ("c", clip_media.torrent)})
    assert added.status_code == 201, added.text
    torrent_id = added.json()["id"]
    engine = app.state.services.extras["engine"]
    assert isinstance(engine, LibtorrentEngine)
    engine.connect_peer(clip_media.info_hash, "127.0.0.1", seeder.port)
    before = await samples(client)

    headers = {**user.headers, "User-Agent": CHROME_UA}
    answer = await client.post(f"/api/v1/torrents/{torrent_id}/files/0/playback", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.json()["mode"] == "remux"
    master_url = urlsplit(answer.json()["url"]).path
    master = await client.get(master_url)
    assert master.status_code == 200
    base = master_url.rsplit("/", 1)[0]
    playlist = await client.get(f"{base}/video.m3u8")
    assert playlist.status_code == 200
    count = sum(1 for line in playlist.text.splitlines() if line.endswith(".m4s"))
    assert (await client.get(f"{base}/init.mp4")).status_code == 200
    assert (await client.get(f"{base}/0.m4s")).status_code == 200
    # Far: the first encoder makes at most segments 0..READ_AHEAD+1, and keeps up to READ_AHEAD past that.
    far = count - 3
    assert far > 2 * READ_AHEAD + 1
    assert (await client.get(f"{base}/{far}.m4s")).status_code == 200

    after = await samples(client)
    assert after["ts_media_first_segment_seconds_count"] >= 1
    assert after["ts_media_seek_segment_seconds_count"] >= 1
    assert after["ts_media_encoder_restarts_total"] > before.get("ts_media_encoder_restarts_total", 0.0)
    assert after["ts_media_active_encoders_count"] >= 1
    assert after["ts_media_active_encoders_count"] > before.get("ts_media_active_encoders_count", 0.0)

    detail = await client.get(f"/api/v1/torrents/{torrent_id}", headers=user.headers)
    assert detail.status_code == 200
    playback = detail.json()["playback"]
    assert playback["first_segment_seconds"] is not None
    assert playback["last_seek_seconds"] is not None
    assert playback["encoder_restarts"] >= 1
    assert playback["active_encoders"] >= 1  # the seek's encoder, waiting READ_AHEAD segments ahead

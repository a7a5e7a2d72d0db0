"""Magnets fetch metadata from the swarm, cached info dicts skip it; resume survives kill -9."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from torrent_streamer.engine import (
    BlockedAddress,
    InvalidMagnet,
    LibtorrentEngine,
    MetadataTimeout,
)

from .conftest import leech_config
from .swarm import Media, Seeder

pytestmark = pytest.mark.asyncio


def _magnet(media: Media, port: int) -> str:
    return f"magnet:?xt=urn:btih:{media.info_hash}&dn=Movie&x.pe=127.0.0.1:{port}"


async def test_magnet_fetches_metadata_then_streams(engine: LibtorrentEngine, media: Media, seeder: Seeder) -> None:
    info = await engine.add_magnet(_magnet(media, seeder.port))
    assert info.info_hash == media.info_hash
    full = await engine.wait_metadata(info.info_hash, 30)
    assert full.has_metadata
    assert [f.name.split("/", 1)[1] for f in full.files] == list(media.files)
    again = await engine.add_magnet(_magnet(media, seeder.port))  # idempotent
    assert again.info_hash == info.info_hash
    assert len(engine.list_status()) == 1
    async with await engine.open_reader(info.info_hash, media.file_index("movie.srt")) as r:
        assert await r.read(0, 100) == media.files["movie.srt"]


async def test_known_magnet_uses_cached_info_dict(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    cfg = leech_config(tmp_path)
    engine = LibtorrentEngine(cfg)
    await engine.start()
    try:
        info = await engine.add_magnet(_magnet(media, seeder.port))
        await engine.wait_metadata(info.info_hash, 30)
        await engine.remove(info.info_hash, delete_files=True)
        # no peers this time: metadata can only come from the cache
        again = await engine.add_magnet(f"magnet:?xt=urn:btih:{media.info_hash}")
        assert again.has_metadata
        assert len(again.files) == 3
        assert (await engine.wait_metadata(again.info_hash, 0.01)).has_metadata
    finally:
        await engine.close()


async def test_unknown_magnet_times_out(engine: LibtorrentEngine) -> None:
    info = await engine.add_magnet("magnet:?xt=urn:btih:" + "ab" * 20)
    assert not info.has_metadata
    assert engine.status(info.info_hash).state == "metadata"
    with pytest.raises(MetadataTimeout):
        await engine.wait_metadata(info.info_hash, 0.2)


async def test_magnet_ssrf_refused_by_default(tmp_path: Path) -> None:
    engine = LibtorrentEngine(leech_config(tmp_path, allow_private_networks=False))
    await engine.start()
    try:
        h = "ab" * 20
        for bad in (
            f"magnet:?xt=urn:btih:{h}&tr=http://10.0.0.1/announce",
            f"magnet:?xt=urn:btih:{h}&ws=http://localhost/x",
            f"magnet:?xt=urn:btih:{h}&x.pe=127.0.0.1:6881",
            f"magnet:?xt=urn:btih:{h}&x.pe=[fe80::1]:6881",
        ):
            with pytest.raises(BlockedAddress):
                await engine.add_magnet(bad)
        with pytest.raises(InvalidMagnet):
            await engine.add_magnet("magnet:?xt=urn:btih:zz")
        assert engine.list_status() == []
    finally:
        await engine.close()


CHILD = r"""
import asyncio, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from tests.engine.conftest import leech_config
from torrent_streamer.engine import LibtorrentEngine

async def main():
    e = LibtorrentEngine(leech_config(Path({tmp!r}), resume_save_interval=0.2))
    await e.start()
    info = await e.add_torrent_file(Path({torrent!r}).read_bytes())
    e.connect_peer(info.info_hash, "127.0.0.1", {port})
    r = await e.open_reader(info.info_hash, {index})
    pos = 0
    while pos < r.size:
        pos += len(await r.read(pos, 1 << 20))
    resume = Path({tmp!r}) / "state" / "resume" / (info.info_hash + ".fastresume")
    await e.wait_status(info.info_hash, lambda s: s.progress >= 0.999 or s.state == "seeding", 30)
    before = resume.stat().st_mtime_ns if resume.exists() else 0
    while not resume.exists() or resume.stat().st_mtime_ns == before:
        await asyncio.sleep(0.05)   # child only: wait for the next periodic save
    print("SAVED", flush=True)
    await asyncio.sleep(3600)

asyncio.run(main())
"""


async def test_resume_after_sigkill_does_not_redownload(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    torrent = tmp_path / "t.torrent"
    torrent.write_bytes(media.torrent)
    root = str(Path(__file__).resolve().parents[2])
    code = CHILD.format(
        root=root,
        tmp=str(tmp_path),
        torrent=str(torrent),
        port=seeder.port,
        index=media.file_index("movie.mp4"),
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": root + "/src"},
    )
    try:
        assert proc.stdout is not None
        line = await asyncio.wait_for(proc.stdout.readline(), 60)
        assert line.strip() == b"SAVED"
    finally:
        proc.send_signal(signal.SIGKILL)
        await proc.wait()

    engine = LibtorrentEngine(leech_config(tmp_path))
    await engine.start()
    try:
        key = media.info_hash
        assert engine.status(key).has_metadata
        engine.connect_peer(key, "127.0.0.1", seeder.port)
        st = await engine.wait_status(key, lambda s: s.state not in ("checking", "metadata"), 30)
        movie = len(media.files["movie.mp4"])
        assert st.downloaded_bytes >= movie - 32 * 1024
        async with await engine.open_reader(key, media.file_index("movie.mp4")) as r:
            assert await r.read(movie // 2, 1000) == media.files["movie.mp4"][movie // 2 : movie // 2 + 1000]
        assert engine.payload_downloaded(key) == 0
    finally:
        await engine.close()


async def test_close_saves_resume_and_restart_restores(tmp_path: Path, media: Media, seeder: Seeder) -> None:
    cfg = leech_config(tmp_path, resume_save_interval=3600.0)
    engine = LibtorrentEngine(cfg)
    await engine.start()
    key = (await engine.add_torrent_file(media.torrent)).info_hash
    engine.connect_peer(key, "127.0.0.1", seeder.port)
    async with await engine.open_reader(key, media.file_index("extras/sample.bin")) as r:
        pos = 0
        while pos < r.size:
            pos += len(await r.read(pos, 1 << 20))
    await engine.close()
    assert (cfg.state_dir / "resume" / f"{key}.fastresume").exists()

    again = LibtorrentEngine(cfg)
    await again.start()
    try:
        st = await again.wait_status(key, lambda s: s.state not in ("checking", "metadata"), 30)
        assert st.downloaded_bytes >= len(media.files["extras/sample.bin"])
        assert again.payload_downloaded(key) == 0
        async with await again.open_reader(key, media.file_index("extras/sample.bin")) as r:
            assert await r.read(5, 100) == media.files["extras/sample.bin"][5:105]
    finally:
        await again.close()

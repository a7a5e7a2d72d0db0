"""Test helpers: deterministic media, a .torrent built with lt.create_torrent, a loopback seeder.

The seeder is a second libtorrent session on 127.0.0.1 (TCP only, no DHT/LSD/UPnP/NAT-PMP).
"""

from __future__ import annotations

import hashlib
import random
import struct
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import libtorrent as lt

PIECE = 32 * 1024
MOVIE_SECONDS = 4


def _box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def fake_mp4(size_mdat: int, seed: int) -> bytes:
    """ftyp + mdat (pseudo-random) + moov(mvhd 60 s) at the end, like a non-faststart MP4."""
    rnd = random.Random(seed)
    ftyp = _box(b"ftyp", b"isom\x00\x00\x02\x00isomiso2avc1mp41")
    mdat = _box(b"mdat", rnd.randbytes(size_mdat))
    mvhd = _box(
        b"mvhd",
        b"\x00\x00\x00\x00" + struct.pack(">IIII", 0, 0, 1000, MOVIE_SECONDS * 1000) + bytes(80),
    )
    moov = _box(b"moov", mvhd + _box(b"free", rnd.randbytes(40_000)))
    return ftyp + mdat + moov


@dataclass
class Media:
    root: Path  # parent of the torrent's top directory
    name: str
    files: dict[str, bytes]  # relative path inside the torrent -> content
    torrent: bytes
    info_hash: str

    def file_index(self, rel: str) -> int:
        """libtorrent's index of `rel` (pad files count in hybrid/v2 torrents)."""
        fs = lt.torrent_info(self.torrent).layout()
        for i in range(fs.num_files()):
            if fs.file_path(i).split("/", 1)[-1] == rel:
                return i
        raise KeyError(rel)


def make_media(
    root: Path,
    name: str = "Movie",
    mdat: int = 3 * 1024 * 1024,
    seed: int = 1,
    flags: int | None = None,
    files: dict[str, bytes] | None = None,
) -> Media:
    rnd = random.Random(seed + 100)
    files = files or {
        "movie.mp4": fake_mp4(mdat, seed),
        "extras/sample.bin": rnd.randbytes(1024 * 1024 + 1234),
        "movie.srt": b"1\n00:00:01,000 --> 00:00:02,000\nHello\n",
    }
    top = root / name
    for rel, data in files.items():
        p = top / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
    entries = [lt.create_file_entry(f"{name}/{rel}", len(data)) for rel, data in files.items()]
    ct = lt.create_torrent(entries, PIECE, lt.create_torrent.v1_only if flags is None else flags)
    lt.set_piece_hashes(ct, str(root))
    torrent = bytes(lt.bencode(ct.generate()))
    ti = lt.torrent_info(torrent)
    # the engine orders files like libtorrent: check our dict order matches
    fs = ti.layout()
    pad = lt.file_storage.flag_pad_file
    order = [fs.file_path(i).split("/", 1)[1] for i in range(fs.num_files()) if not fs.file_flags(i) & pad]
    files = {rel: files[rel] for rel in order}
    ih = ti.info_hashes()
    return Media(root, name, files, torrent, str(ih.v1) if ih.has_v1() else str(ih.v2))


def wait_alert(ses: lt.session, kind: type, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ses.wait_for_alert(100):
            for a in ses.pop_alerts():
                if isinstance(a, kind):
                    return a
                failure = a.message() if isinstance(a, lt.torrent_error_alert) else None
                if failure:
                    raise RuntimeError(failure)
    raise TimeoutError(kind.__name__)


class Seeder:
    """A loopback seeding session; `port` is where leechers connect (TCP, or uTP only)."""

    def __init__(self, media: Media, upload_rate_limit: int = 0, *, utp_only: bool = False, port: int = 0) -> None:
        self.ses = lt.session(
            {
                "listen_interfaces": f"127.0.0.1:{port}",
                "enable_dht": False,
                "enable_lsd": False,
                "enable_upnp": False,
                "enable_natpmp": False,
                "enable_outgoing_utp": utp_only,
                "enable_incoming_utp": utp_only,
                "enable_outgoing_tcp": not utp_only,
                "enable_incoming_tcp": not utp_only,
                "upload_rate_limit": upload_rate_limit,
                "ignore_limits_on_local_network": False,
                "allow_multiple_connections_per_ip": True,
                "alert_mask": int(lt.alert_category.status | lt.alert_category.error),
            }
        )
        if upload_rate_limit:
            # libtorrent puts loopback/LAN peers in the local peer class, which ignores rate
            # limits: put every address in the global class so the throttle really applies.
            everyone = lt.ip_filter()
            everyone.add_rule("0.0.0.0", "255.255.255.255", 1 << self.ses.global_peer_class_id)
            self.ses.set_peer_class_filter(everyone)
        listen = wait_alert(self.ses, lt.listen_succeeded_alert)
        atp = lt.add_torrent_params()
        atp.ti = lt.torrent_info(media.torrent)
        atp.save_path = str(media.root)
        atp.flags |= lt.torrent_flags.seed_mode
        atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
        self.handle = self.ses.add_torrent(atp)
        self.port = int(listen.port)

    def close(self) -> None:
        self.ses.pause()
        del self.ses


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

"""Configuration of the torrent engine: one frozen dataclass with safe defaults.

Server-safe by default: private networks blocked, LSD/UPnP/NAT-PMP off, bounded inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
TiB = 1024 * GiB


@dataclass(frozen=True, slots=True)
class EngineConfig:
    """Everything the engine needs; byte rates are bytes/s and 0 means unlimited."""

    download_dir: Path
    state_dir: Path
    listen_interfaces: str = "0.0.0.0:6881,[::]:6881"
    enable_dht: bool = True
    enable_lsd: bool = False
    enable_upnp: bool = False
    enable_natpmp: bool = False
    allow_private_networks: bool = False
    download_rate_limit: int = 0
    upload_rate_limit: int = 0
    connections_limit: int = 200
    proxy_url: str | None = None
    cache_limit_bytes: int = 50 * GiB
    max_torrent_file_bytes: int = 10 * MiB
    max_pieces: int = 2_000_000
    max_decode_depth: int = 100
    max_decode_tokens: int = 3_000_000
    max_files: int = 100_000
    max_total_size: int = 4 * TiB
    max_path_component_bytes: int = 255
    max_path_bytes: int = 4096
    # Issue 12, item 6: a reader holds up to `reader_cache_pieces` whole pieces in memory, so the piece
    # length bounds memory per reader (64 readers x 2 x 16 MiB = 2 GiB worst case).
    max_piece_length: int = 16 * MiB
    # Largest info dict accepted from peers (libtorrent `max_metadata_size`, default ~30 MiB) or in an
    # upload: 4 MiB is ~200,000 v1 pieces (3 TiB at 16 MiB pieces) plus a long file list.
    max_metadata_size: int = 4 * MiB
    max_magnet_length: int = 8192
    max_magnet_trackers: int = 64
    metadata_timeout: float = 30.0
    idle_pause_seconds: float = 600.0
    resume_save_interval: float = 30.0
    status_interval: float = 1.0
    maintenance_interval: float = 5.0
    read_timeout: float = 120.0
    stall_threshold_seconds: float = 0.25
    assumed_bitrate: int = 1 * MiB
    window_min_seconds: float = 2.0  # of playback: what "buffered" means in reader status
    window_min_pieces: int = 2  # the urgent window right after an open or a seek (a probe)...
    window_start_bytes: int = 4 * MiB  # ...or this when the first read asks for >= 64 KiB
    window_seconds: float = 4.0  # of the consumer's measured read rate, once it keeps up
    window_max_bytes: int = 16 * MiB
    reader_cache_pieces: int = 2
    readahead_bytes: int = 2 * MiB  # verified pieces read ahead of a reader (at least one piece)
    read_span_bytes: int = 2 * MiB  # the most one read is expected to coalesce (the HTTP layer's chunk)
    enable_utp: bool = True
    # Outgoing connections try uTP first only if set: libtorrent falls back to TCP after a
    # 3 s uTP connect timeout, which a TCP-only peer makes every stream start pay.
    outgoing_utp: bool = False
    # ...but a torrent that wants data and has had no peer this long opens outgoing uTP
    # (session-wide, until no torrent starves), so uTP-only peers are still reached.
    utp_fallback_seconds: float = 2.0
    # A reader waiting this long for a piece of a torrent with no peer re-dials the torrent's known
    # peers and re-pushes its deadlines; the next rescue of the same stall waits twice as long
    # (capped at `rescue_max_seconds`), so a dead swarm is not hammered.
    rescue_after_seconds: float = 2.0
    rescue_max_seconds: float = 30.0

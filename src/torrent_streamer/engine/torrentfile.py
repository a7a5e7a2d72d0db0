"""Validation of hostile .torrent files and fetched metadata before libtorrent stores anything.

Decoding is bounded by libtorrent's limits first; only then is the raw info dict inspected.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import libtorrent as lt

from .alerts import ih_of
from .config import EngineConfig
from .errors import InvalidTorrent
from .media import display_name, guess_mime, is_streamable
from .netpolicy import TRACKER_SCHEMES, WEB_SEED_SCHEMES, check_url
from .types import FileInfo, TorrentInfo

_BAD_COMPONENT = re.compile(r"[\x00-\x1f\x7f/\\]")
_MAX_DEPTH_WALK = 64


def lt_limits(cfg: EngineConfig) -> Any:
    """The decode limits handed to libtorrent for every torrent and resume file."""
    return {
        "max_buffer_size": cfg.max_torrent_file_bytes,
        "max_pieces": cfg.max_pieces,
        "max_decode_depth": cfg.max_decode_depth,
        "max_decode_tokens": cfg.max_decode_tokens,
    }


def key_of(ih: Any) -> str:
    """Engine identifier for an `info_hash_t`: v1 hex, or v2 hex for v2-only torrents."""
    return str(ih.v1) if ih.has_v1() else str(ih.v2)


def storage_key_of(key: str, ti: lt.torrent_info | None) -> str:
    """The data directory's name: the v1 hash once metadata shows one (hybrid torrents), else `key`."""
    return key_of(ti.info_hashes()) if ti is not None else key


def _check_component(raw: Any, cfg: EngineConfig) -> None:
    if not isinstance(raw, bytes):
        raise InvalidTorrent("file name is not a string")
    if len(raw) == 0 or len(raw) > cfg.max_path_component_bytes:
        raise InvalidTorrent("empty or over-long file name")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidTorrent("file name is not UTF-8") from exc
    if text in (".", "..") or _BAD_COMPONENT.search(text):
        raise InvalidTorrent("unsafe file name (traversal, separator or control character)")
    if re.match(r"^[A-Za-z]:", text):
        raise InvalidTorrent("absolute file name")


def _check_path(parts: Any, cfg: EngineConfig) -> None:
    if not isinstance(parts, list) or not parts:
        raise InvalidTorrent("malformed file path")
    for p in parts:
        _check_component(p, cfg)
    if sum(len(p) + 1 for p in parts) > cfg.max_path_bytes:
        raise InvalidTorrent("file path too long")


def _check_attr(entry: dict[bytes, Any]) -> None:
    attr = entry.get(b"attr", b"")
    if not isinstance(attr, bytes) or b"l" in attr or b"symlink path" in entry:
        raise InvalidTorrent("symlinks are not allowed")


def _length(entry: dict[bytes, Any]) -> int:
    n = entry.get(b"length")
    if not isinstance(n, int) or isinstance(n, bool) or n < 0:
        raise InvalidTorrent("malformed file length")
    return n


def _walk_tree(tree: Any, depth: int, cfg: EngineConfig) -> Iterator[int]:
    if depth > _MAX_DEPTH_WALK or not isinstance(tree, dict):
        raise InvalidTorrent("malformed file tree")
    for name, sub in tree.items():
        if name == b"":
            if not isinstance(sub, dict):
                raise InvalidTorrent("malformed file tree")
            _check_attr(sub)
            yield _length(sub)
            continue
        _check_component(name, cfg)
        yield from _walk_tree(sub, depth + 1, cfg)


def check_info_dict(info: Any, cfg: EngineConfig) -> None:
    """Refuse traversal, absolute, backslash, NUL, symlink, over-long or giant entries."""
    if not isinstance(info, dict):
        raise InvalidTorrent("missing info dictionary")
    _check_component(info.get(b"name.utf-8", info.get(b"name")), cfg)
    plen = info.get(b"piece length")
    if not isinstance(plen, int) or plen < 16 * 1024:
        raise InvalidTorrent("unsupported piece length")
    if plen > cfg.max_piece_length:
        raise InvalidTorrent(f"piece length over the limit of {cfg.max_piece_length // (1024 * 1024)} MiB")
    sizes: list[int] = []
    if b"files" in info:
        files = info[b"files"]
        if not isinstance(files, list) or not files or len(files) > cfg.max_files:
            raise InvalidTorrent("bad file list")
        for f in files:
            if not isinstance(f, dict):
                raise InvalidTorrent("malformed file entry")
            attr = f.get(b"attr", b"")
            _check_attr(f)
            path = f.get(b"path.utf-8", f.get(b"path"))
            if isinstance(attr, bytes) and b"p" in attr and isinstance(path, list):
                path = [p for p in path if p != b".pad"] or [b"pad"]
            _check_path(path, cfg)
            sizes.append(_length(f))
    elif b"length" in info:
        _check_attr(info)
        sizes.append(_length(info))
    if b"file tree" in info:
        tree_sizes = list(_walk_tree(info[b"file tree"], 0, cfg))
        if len(tree_sizes) > cfg.max_files:
            raise InvalidTorrent("too many files")
        sizes = sizes or tree_sizes
    if not sizes:
        raise InvalidTorrent("torrent without files")
    total = sum(sizes)
    if total > cfg.max_total_size:
        raise InvalidTorrent("declared size too large")
    pieces = info.get(b"pieces")
    if isinstance(pieces, bytes) and (len(pieces) % 20 or len(pieces) // 20 > cfg.max_pieces):
        raise InvalidTorrent("too many pieces")
    if total // plen + 1 > cfg.max_pieces:
        raise InvalidTorrent("too many pieces")


def _tracker_urls(top: dict[bytes, Any]) -> Iterator[tuple[bytes, frozenset[str]]]:
    if isinstance(top.get(b"announce"), bytes):
        yield top[b"announce"], TRACKER_SCHEMES
    tiers = top.get(b"announce-list", []) or []
    if not isinstance(tiers, list):  # libtorrent ignores it; we refuse what we cannot vet
        raise InvalidTorrent("announce-list is not a list")
    for tier in tiers:
        for url in tier if isinstance(tier, list) else [tier]:
            yield url, TRACKER_SCHEMES
    for key in (b"url-list", b"httpseeds"):
        seeds = top.get(key, [])
        for url in seeds if isinstance(seeds, list) else [seeds]:
            yield url, WEB_SEED_SCHEMES


def check_urls(top: dict[bytes, Any], cfg: EngineConfig) -> None:
    """Every tracker and web seed must be a well-formed URL on a public host."""
    for raw, schemes in _tracker_urls(top):
        if not isinstance(raw, bytes) or not raw:
            continue
        check_url(raw.decode("utf-8", "replace"), schemes, cfg.allow_private_networks)


def parse_torrent_file(data: bytes, cfg: EngineConfig) -> lt.torrent_info:
    """Validate `.torrent` bytes and return libtorrent's parsed torrent_info."""
    if not isinstance(data, bytes | bytearray) or not data:
        raise InvalidTorrent("empty torrent file")
    if len(data) > cfg.max_torrent_file_bytes:
        raise InvalidTorrent("torrent file too large")
    try:
        ti: lt.torrent_info = lt.torrent_info(bytes(data), lt_limits(cfg))
    except (RuntimeError, ValueError) as exc:
        raise InvalidTorrent("cannot decode torrent") from exc
    if ti.num_pieces() > cfg.max_pieces:
        raise InvalidTorrent("too many pieces")
    if len(ti.info_section()) > cfg.max_metadata_size:
        raise InvalidTorrent("torrent metadata too large")
    top: Any = lt.bdecode(bytes(data))
    if not isinstance(top, dict):
        raise InvalidTorrent("not a dictionary")
    check_info_dict(top.get(b"info"), cfg)
    check_urls(top, cfg)
    return ti


def check_metadata(ti: lt.torrent_info, cfg: EngineConfig) -> None:
    """Validate metadata fetched from peers (a magnet's info dict) like a .torrent file."""
    if ti.num_pieces() > cfg.max_pieces:
        raise InvalidTorrent("too many pieces")
    section = bytes(ti.info_section())
    if len(section) > cfg.max_metadata_size:
        raise InvalidTorrent("torrent metadata too large")
    check_info_dict(lt.bdecode(section), cfg)


def torrent_bytes(ti: lt.torrent_info) -> bytes:
    """A minimal .torrent holding the exact info section (so the info-hash is preserved)."""
    return b"d4:info" + bytes(ti.info_section()) + b"e"


def build_files(ti: lt.torrent_info) -> tuple[FileInfo, ...]:
    """FileInfo of every non-pad file, indexed as libtorrent indexes them."""
    fs = ti.layout()
    plen = ti.piece_length()
    out: list[FileInfo] = []
    for i in range(fs.num_files()):
        if fs.file_flags(i) & lt.file_storage.flag_pad_file:
            continue
        size = fs.file_size(i)
        offset = fs.file_offset(i)
        name = display_name(fs.file_path(i).replace("\\", "/"))
        mime = guess_mime(name)
        last = (offset + size - 1) // plen if size else offset // plen
        out.append(FileInfo(i, name, size, mime, is_streamable(mime), offset, offset // plen, last))
    return tuple(out)


def torrent_info_of(key: str, ti: lt.torrent_info | None, fallback_name: str) -> TorrentInfo:
    """Build the public TorrentInfo (metadata may still be missing)."""
    if ti is None:
        return TorrentInfo(key, display_name(fallback_name or key), False, info_hashes=(key,))
    others = tuple(h for h in ih_of(ti.info_hashes()) if h is not None and h != key)
    return TorrentInfo(
        info_hash=key,
        name=display_name(ti.name()),
        has_metadata=True,
        total_size=ti.total_size(),
        piece_length=ti.piece_length(),
        num_pieces=ti.num_pieces(),
        files=build_files(ti),
        info_hashes=(key, *others),
    )

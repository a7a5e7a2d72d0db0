"""Release-name parsing: guessit's guess, normalised into the catalog's columns and a work key.

Pure (no I/O). guessit costs ~10-25 ms per name on a shared 2-core machine: call it off the event loop.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from guessit import guessit

PARSER_VERSION = 1  # bump when the mapping changes: the backfill re-parses rows below it
_NON_WORD = re.compile(r"[\W_]+")

_SOURCES = {
    "Ultra HD Blu-ray": "BluRay",
    "Blu-ray": "BluRay",
    "HD-DVD": "HD-DVD",
    "DVD": "DVD",
    "HDTV": "HDTV",
    "Ultra HDTV": "HDTV",
    "TV": "TV",
    "Satellite": "TV",
    "Digital TV": "TV",
    "Camera": "CAM",
    "HD Camera": "CAM",
    "Telesync": "TS",
    "HD Telesync": "TS",
    "Telecine": "TC",
    "Workprint": "WP",
    "VHS": "VHS",
    "Video on Demand": "VOD",
}
_RIPS = {"BluRay": "BDRip", "DVD": "DVDRip", "HDTV": "HDTVRip", "TV": "TVRip"}
_VIDEO = {
    "H.264": "h264",
    "H.265": "hevc",
    "H.266": "vvc",
    "AV1": "av1",
    "VP9": "vp9",
    "VP8": "vp8",
    "Xvid": "xvid",
    "DivX": "divx",
    "MPEG-2": "mpeg2",
    "VC-1": "vc1",
    "RealVideo": "rv",
}
_AUDIO = {
    "Dolby Digital Plus": "eac3",
    "Dolby Digital": "ac3",
    "Dolby TrueHD": "truehd",
    "DTS-HD": "dts-hd",
    "DTS:X": "dts-x",
    "DTS": "dts",
    "AAC": "aac",
    "FLAC": "flac",
    "MP3": "mp3",
    "MP2": "mp2",
    "Opus": "opus",
    "Vorbis": "vorbis",
    "PCM": "pcm",
    "LPCM": "pcm",
    "Dolby Atmos": "atmos",  # an extension carried by TrueHD or E-AC-3: only used when nothing else is named
}
_HDR = (("Dolby Vision", "dv"), ("HDR10+", "hdr10+"), ("HDR10", "hdr10"), ("HDR", "hdr"), ("HLG", "hlg"))
_AV1 = re.compile(r"(?<![a-z0-9])av1(?![a-z0-9])", re.IGNORECASE)  # guessit 4.x does not know AV1 yet
_HEIGHT = re.compile(r"(\d{3,4})[pi]$|^\d{3,4}x(\d{3,4})$")


@dataclass(frozen=True)
class ParsedRelease:
    """What a release name says. ``season_end``/``episode_end`` close a range; a season without an
    episode is a season pack; ``kind`` is ``show`` when any season or episode was found."""

    title: str
    title_key: str
    kind: str  # movie | show
    year: int | None = None
    season: int | None = None
    season_end: int | None = None
    episode: int | None = None
    episode_end: int | None = None
    resolution: str | None = None
    source: str | None = None
    video_codec: str | None = None
    hdr: str | None = None
    audio_codec: str | None = None
    audio_channels: str | None = None
    languages: tuple[str, ...] = ()
    group: str | None = None

    @property
    def work_key(self) -> str:
        """Releases of one work share this key: a movie by title and year, a show by title, season, episode."""
        if self.kind == "movie":
            return f"movie|{self.title_key}|{self.year or ''}"
        return f"show|{self.title_key}|{_span(self.season, self.season_end)}|{_span(self.episode, self.episode_end)}"

    def columns(self) -> dict[str, Any]:
        """The catalog_entries columns this parse fills."""
        return {
            "parsed_title": self.title[:300],
            "year": self.year,
            "season": self.season,
            "season_end": self.season_end,
            "episode": self.episode,
            "episode_end": self.episode_end,
            "resolution": self.resolution,
            "source": self.source,
            "video_codec": self.video_codec,
            "hdr": self.hdr,
            "audio_codec": self.audio_codec,
            "audio_channels": self.audio_channels,
            "languages": ",".join(self.languages)[:64] or None,
            "release_group": self.group[:64] if self.group else None,
            "parse_version": PARSER_VERSION,
        }


def _span(start: int | None, end: int | None) -> str:
    if start is None:
        return ""
    return str(start) if end in (None, start) else f"{start}-{end}"


def title_key(text: str) -> str:
    """Case- and accent-free words of a title ("Amélie" and "AMELIE" → "amelie"), for matching and grouping."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(_NON_WORD.sub(" ", unicodedata.normalize("NFC", stripped).casefold()).split())


def _ints(value: Any) -> list[int]:
    items = value if isinstance(value, list) else [value]
    return sorted(int(v) for v in items if isinstance(v, int) and not isinstance(v, bool) and 0 <= v < 10000)


def _strings(value: Any) -> list[str]:
    return [str(v) for v in (value if isinstance(value, list) else [value]) if v is not None]


def _resolution(value: Any) -> str | None:
    for raw in _strings(value):
        if raw.upper() == "4K":
            return "2160p"
        found = _HEIGHT.search(raw)
        if found:
            height = int(found.group(1) or found.group(2))
            return f"{height}p"
    return None


def _source(guess: dict[str, Any]) -> str | None:
    sources = _strings(guess.get("source"))
    if not sources:
        return None
    other = set(_strings(guess.get("other")))
    if sources[0] == "Web":
        return "WEBRip" if "Rip" in other else "WEB-DL"
    name = _SOURCES.get(sources[0], sources[0][:16])
    return _RIPS.get(name, name) if "Rip" in other and name in _RIPS else name


def _audio(value: Any) -> str | None:
    codecs = [_AUDIO[v] for v in _strings(value) if v in _AUDIO]
    named = [c for c in codecs if c != "atmos"]
    return next(iter(named or codecs), None)


def _languages(value: Any) -> tuple[str, ...]:
    codes: list[str] = []
    for language in value if isinstance(value, list) else [value]:
        if language is None:
            continue
        code = str(language).split("-", 1)[0].lower()
        if code and code != "und" and code not in codes:
            codes.append(code[:8])
    return tuple(codes[:8])


@lru_cache(maxsize=4096)
def parse_release(name: str) -> ParsedRelease:
    """Parse one release name (a torrent title). Never raises: an unparseable name is its own title."""
    cleaned = " ".join(name.split())[:300]
    try:
        guess: dict[str, Any] = dict(guessit(cleaned))
    except Exception:  # noqa: BLE001 - a library failure on odd input must not fail an import
        guess = {}
    titles = _strings(guess.get("title"))
    title = titles[0] if titles else cleaned
    parts = _ints(guess.get("part"))
    if parts and not guess.get("episode"):
        title = f"{title} Part {parts[0]}"  # "Dune.Part.Two": guessit moves the part out of the title
    seasons = _ints(guess.get("season"))
    episodes = _ints(guess.get("episode")) or _ints(guess.get("absolute_episode"))
    years = _ints(guess.get("year"))
    show = bool(seasons or episodes)
    hdr_marks = set(_strings(guess.get("other")))
    return ParsedRelease(
        title=title,
        title_key=title_key(title) or title_key(cleaned) or cleaned.casefold(),
        kind="show" if show else "movie",
        year=years[0] if years and 1878 <= years[0] <= 2100 else None,
        season=seasons[0] if seasons else None,
        season_end=seasons[-1] if len(seasons) > 1 else None,
        episode=episodes[0] if episodes else None,
        episode_end=episodes[-1] if len(episodes) > 1 else None,
        resolution=_resolution(guess.get("screen_size")),
        source=_source(guess),
        video_codec=next((_VIDEO[v] for v in _strings(guess.get("video_codec")) if v in _VIDEO), None)
        or ("av1" if _AV1.search(cleaned) else None),
        hdr=next((code for mark, code in _HDR if mark in hdr_marks), None),
        audio_codec=_audio(guess.get("audio_codec")),
        audio_channels=next(iter(_strings(guess.get("audio_channels"))), None),
        languages=_languages(guess.get("language")),
        group=next(iter(_strings(guess.get("release_group"))), None),
    )

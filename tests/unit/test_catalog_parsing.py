"""Release-name parsing on a corpus of real-world-shaped names (scene, P2P, anime, non-Latin, packs)."""

from __future__ import annotations

from typing import Any

import pytest
from _pytest.mark.structures import ParameterSet

from torrent_streamer.catalog.parsing import parse_release, title_key

# (title as released, expected title, year)
MOVIES = [
    ("Dune", "Dune", 2021),
    ("Interstellar", "Interstellar", 2014),
    ("Amélie", "Amélie", 2001),
    ("Les.Misérables", "Les Misérables", 2012),
    ("The.Dark.Knight", "The Dark Knight", 2008),
    ("Spirited.Away", "Spirited Away", 2001),
    ("Oppenheimer", "Oppenheimer", 2023),
    ("Blade.Runner.2049", "Blade Runner 2049", 2017),
    ("Crouching.Tiger.Hidden.Dragon", "Crouching Tiger Hidden Dragon", 2000),
    ("Pan's.Labyrinth", "Pan's Labyrinth", 2006),
    ("千と千尋の神隠し", "千と千尋の神隠し", 2001),
    ("Кин-дза-дза!", "Кин-дза-дза!", 1986),
    ("La.Haine", "La Haine", 1995),
    ("Das.Boot", "Das Boot", 1981),
]
# (tail after the year, resolution, source, video codec, hdr, audio codec, channels, group)
MOVIE_TAILS = [
    (
        "2160p.UHD.BluRay.x265.10bit.HDR.DTS-HD.MA.7.1-SWTYBLZ",
        "2160p",
        "BluRay",
        "hevc",
        "hdr10",
        "dts-hd",
        "7.1",
        "SWTYBLZ",
    ),
    ("1080p.BluRay.x264.DTS-FGT", "1080p", "BluRay", "h264", None, "dts", None, "FGT"),
    ("720p.BRRip.x264.AAC-ETRG", "720p", "BDRip", "h264", None, "aac", None, "ETRG"),
    ("1080p.WEB-DL.DDP5.1.H.264-NTG", "1080p", "WEB-DL", "h264", None, "eac3", "5.1", "NTG"),
    ("1080p.WEBRip.x264.AAC5.1-YTS", "1080p", "WEBRip", "h264", None, "aac", "5.1", "YTS"),
    ("2160p.WEB-DL.DDP5.1.Atmos.DV.HEVC-FLUX", "2160p", "WEB-DL", "hevc", "dv", "eac3", "5.1", "FLUX"),
    ("DVDRip.XviD.AC3-EVO", None, "DVDRip", "xvid", None, "ac3", None, "EVO"),
    ("2160p.BluRay.REMUX.HEVC.TrueHD.7.1.Atmos-FGT", "2160p", "BluRay", "hevc", None, "truehd", "7.1", "FGT"),
    ("1080p.BluRay.x265.10bit.AAC.2.0-RARBG", "1080p", "BluRay", "hevc", None, "aac", "2.0", "RARBG"),
    ("720p.HDTV.x264.AC3-GRP", "720p", "HDTV", "h264", None, "ac3", None, "GRP"),
    ("1080p.AMZN.WEB-DL.DD+5.1.H.264-CMRG", "1080p", "WEB-DL", "h264", None, "eac3", "5.1", "CMRG"),
    ("480p.DVDRip.x264.MP3-GalaxyRG", "480p", "DVDRip", "h264", None, "mp3", None, "GalaxyRG"),
    ("1080p.BluRay.AV1.Opus.5.1-GRP", "1080p", "BluRay", "av1", None, "opus", "5.1", "GRP"),
]
# (show as released, expected title)
SHOWS = [
    ("The.Bear", "The Bear"),
    ("Breaking.Bad", "Breaking Bad"),
    ("Game.of.Thrones", "Game of Thrones"),
    ("The.Office.US", "The Office"),
    ("Dark", "Dark"),
    ("Stranger.Things", "Stranger Things"),
    ("Money.Heist", "Money Heist"),
    ("Squid.Game", "Squid Game"),
    ("Severance", "Severance"),
    ("Chernobyl", "Chernobyl"),
]
# (pattern, season, season_end, episode, episode_end, resolution, source, codec, group)
SHOW_SHAPES = [
    ("{t}.S02E03.1080p.WEB.h264-ETHEL", 2, None, 3, None, "1080p", "WEB-DL", "h264", "ETHEL"),
    ("{t}.S01E01E02.720p.HDTV.x264-KILLERS", 1, None, 1, 2, "720p", "HDTV", "h264", "KILLERS"),
    ("{t}.S03E01-E04.1080p.WEB-DL.x265-GRP", 3, None, 1, 4, "1080p", "WEB-DL", "hevc", "GRP"),
    ("{t}.S02.COMPLETE.1080p.WEB.H264-GRP", 2, None, None, None, "1080p", "WEB-DL", "h264", "GRP"),
    ("{t}.S01-S05.COMPLETE.720p.BluRay.x264-DEMAND", 1, 5, None, None, "720p", "BluRay", "h264", "DEMAND"),
    ("{t}.Season.3.1080p.BluRay.x265-RARBG", 3, None, None, None, "1080p", "BluRay", "hevc", "RARBG"),
    ("{t}.S10E22.2160p.WEB-DL.HEVC-NTb", 10, None, 22, None, "2160p", "WEB-DL", "hevc", "NTb"),
    ("{t}.1x05.HDTV.XviD-LOL", 1, None, 5, None, None, "HDTV", "xvid", "LOL"),
]
# anime absolute numbering: (name, title, episode, resolution, group)
ANIME = [
    ("[SubsPlease] Jujutsu Kaisen - 12 (1080p) [ABCD1234].mkv", "Jujutsu Kaisen", 12, "1080p", "SubsPlease"),
    ("[Erai-raws] Frieren - 28 [1080p][Multiple Subtitle].mkv", "Frieren", 28, "1080p", "Erai-raws"),
    ("[HorribleSubs] One Piece - 1000 [720p].mkv", "One Piece", 1000, "720p", "HorribleSubs"),
    ("[Group] Show - 12 (1080p)", "Show", 12, "1080p", "Group"),
    ("[SubsPlease] Spy x Family - 05 (720p) [0F1E2D3C].mkv", "Spy x Family", 5, "720p", "SubsPlease"),
    ("[Judas] Vinland Saga - 24 [1080p][HEVC x265 10bit]", "Vinland Saga", 24, "1080p", "Judas"),
    ("[EMBER] Chainsaw Man - 07 (1080p)", "Chainsaw Man", 7, "1080p", "EMBER"),
    ("[ASW] Mushoku Tensei - 03 [1080p HEVC][1A2B3C4D].mkv", "Mushoku Tensei", 3, "1080p", "ASW"),
]
LANGUAGES: list[Any] = [
    ("Les.Misérables.2012.FRENCH.1080p.BluRay.x264-GRP", "Les Misérables", ("fr",)),
    ("Кин-дза-дза!.1986.DVDRip.Rus", "Кин-дза-дза!", ("ru",)),
    ("Brat.2.1999.RUS.DVDRip.XviD", "Brat 2", ("ru",)),
    ("Movie.2019.MULTi.VFF.1080p.WEB-DL.x264-GRP", "Movie", ("mul", "fr")),
    ("El.Laberinto.del.Fauno.2006.SPANISH.1080p.BluRay.x264-GRP", "El Laberinto del Fauno", ("es",)),
    ("Das.Boot.1981.GERMAN.720p.BluRay.x264-GRP", "Das Boot", ("de",)),
    ("Amélie.2001.FRENCH.1080p.BluRay.DD5.1.x264-FOO", "Amélie", ("fr",)),
    pytest.param(
        "La.Dolce.Vita.1960.iTALiAN.1080p.BluRay.x264-GRP",
        "La Dolce Vita",
        ("it",),
        marks=pytest.mark.xfail(strict=True, reason="guessit reads 'Vita' as the PS Vita platform"),
    ),
]


def corpus() -> list[Any]:
    cases: list[Any] = []
    for raw, title, year in MOVIES:
        for tail, res, source, codec, hdr, audio, channels, group in MOVIE_TAILS:
            expected = {
                "title": title,
                "kind": "movie",
                "year": year,
                "season": None,
                "episode": None,
                "resolution": res,
                "source": source,
                "video_codec": codec,
                "hdr": hdr,
                "audio_codec": audio,
                "audio_channels": channels,
                "group": group,
            }
            cases.append(pytest.param(f"{raw}.{year}.{tail}", expected, id=f"{raw}.{year}.{tail}"))
    for raw, title in SHOWS:
        for shape, season, season_end, episode, episode_end, res, source, codec, group in SHOW_SHAPES:
            expected = {
                "title": title,
                "kind": "show",
                "season": season,
                "season_end": season_end,
                "episode": episode,
                "episode_end": episode_end,
                "resolution": res,
                "source": source,
                "video_codec": codec,
                "group": group,
            }
            cases.append(pytest.param(shape.format(t=raw), expected, id=shape.format(t=raw)))
    for name, title, episode, res, group in ANIME:
        expected = {
            "title": title,
            "kind": "show",
            "season": None,
            "episode": episode,
            "resolution": res,
            "group": group,
        }
        cases.append(pytest.param(name, expected, id=name))
    for case in LANGUAGES:
        name, title, languages = case.values if isinstance(case, ParameterSet) else case
        expected = {"title": title, "languages": languages}
        marks = case.marks if isinstance(case, ParameterSet) else ()
        cases.append(pytest.param(name, expected, marks=marks, id=name))
    return cases


CORPUS = corpus()


def test_the_corpus_is_big_enough() -> None:
    assert len(CORPUS) >= 200
    assert len({case.values[0] for case in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize(("name", "expected"), CORPUS)
def test_parses_release_name(name: str, expected: dict[str, Any]) -> None:
    parsed = parse_release(name)
    got = {field: getattr(parsed, field) for field in expected}
    assert got == expected


def test_work_keys_group_releases_of_one_work() -> None:
    a = parse_release("Amélie.2001.1080p.BluRay.DD5.1.x264-FOO")
    b = parse_release("AMELIE.2001.720p.WEBRip.x264-BAR")
    c = parse_release("Amelie.1999.720p.WEBRip.x264-BAR")  # another year: another work
    assert a.work_key == b.work_key != c.work_key
    e1 = parse_release("The.Bear.S02E03.1080p.WEB.h264-ETHEL")
    e2 = parse_release("the bear s02e03 720p hdtv")
    pack = parse_release("The.Bear.S02.COMPLETE.1080p.WEB.H264-GRP")
    assert e1.work_key == e2.work_key != pack.work_key
    assert e1.kind == pack.kind == "show"


def test_title_key_ignores_case_and_accents_and_keeps_other_scripts() -> None:
    assert title_key("Amélie") == title_key("AMELIE") == "amelie"
    assert title_key("Les.Misérables") == "les miserables"
    assert title_key("Кин-дза-дза!") == "кин дза дза"
    assert title_key("千と千尋の神隠し") != ""


@pytest.mark.parametrize("name", ["", "   ", "\x00\x01", "a" * 400, "....", "[]()-", "S01E01", "1080p"])
def test_odd_names_never_raise(name: str) -> None:
    parsed = parse_release(name)
    assert parsed.kind in {"movie", "show"}
    assert len(parsed.title) <= 300

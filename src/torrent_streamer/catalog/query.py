"""Pure text helpers for search: query tokens, FTS5/tsquery builders, trigram word similarity.

Tokens are ``\\w+`` runs, so nothing a user types can reach FTS5 or tsquery syntax.
"""

from __future__ import annotations

import re
import unicodedata

MAX_QUERY_LENGTH = 200
MAX_TOKENS = 12
SEPARATORS = str.maketrans({c: " " for c in "._-+[]()_"})
_TOKEN = re.compile(r"\w+")
_CATEGORY_HINTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("tv", re.compile(r"\bs\d{1,2}e\d{1,3}\b|\bseason[ ._]?\d+|\bcomplete[ ._]series\b", re.I)),
    ("music", re.compile(r"\b(flac|mp3|320kbps|discography|album|ost)\b", re.I)),
    ("books", re.compile(r"\b(epub|mobi|pdf|azw3|audiobook)\b", re.I)),
    ("software", re.compile(r"\b(x64|x86|win(dows)?|macos|linux|iso|crack|portable|setup)\b", re.I)),
    (
        "movies",
        re.compile(r"\b(2160p|1080p|720p|480p|bluray|brrip|bdrip|web-?dl|webrip|hdrip|dvdrip|x26[45]|hevc)\b", re.I),
    ),
)


def clean_text(value: str) -> str:
    """NFC-normalised text without control characters (kept: ordinary whitespace as spaces)."""
    value = unicodedata.normalize("NFC", value)
    return "".join(
        " " if ch in "\t\r\n" else ch for ch in value if unicodedata.category(ch)[0] != "C" or ch in "\t\r\n"
    )


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens of a query or title, separators of release names included."""
    return [t.casefold() for t in _TOKEN.findall(clean_text(text).translate(SEPARATORS))][:MAX_TOKENS]


def normalised_query(text: str) -> str:
    return " ".join(tokens(text))


_WEBSEARCH_SYNTAX = re.compile(r'"|(?:^|\s)-\w|\bor\b', re.IGNORECASE)


def uses_websearch_syntax(text: str) -> bool:
    """Quotes, ``or`` or a ``-word``: only then is PostgreSQL's ``websearch_to_tsquery`` worth its cost."""
    return _WEBSEARCH_SYNTAX.search(text) is not None


_RELEASE_TAG = re.compile(
    r"\d{3,4}[pi]|[xh]26[45]|hevc|avc|av1|xvid|bluray|brrip|bdrip|bdremux|remux|web|webrip|webdl|dl|hdrip|dvdrip"
    r"|hdtv|hdr|hdr10|dv|uhd|4k|8k|s\d{1,2}(?:e\d{1,3})?|e\d{1,3}|(?:18|19|20)\d\d"
)


def is_release_tag(word: str) -> bool:
    """A word of a release name that is not part of a work's title (resolution, source, codec, year, SxxEyy)."""
    return _RELEASE_TAG.fullmatch(word) is not None


def fts5_match(words: list[str]) -> str:
    """FTS5: every word, the last one also as a prefix (``"inter"*``)."""
    parts = [f'"{w}"' for w in words[:-1]]
    if words:
        parts.append(f'"{words[-1]}"*')
    return " ".join(parts)


def fts5_trigram_pieces(words: list[str]) -> str:
    """FTS5 trigram: halves of each long word, OR-ed. One typo leaves at least one half intact."""
    pieces: list[str] = []
    for word in words:
        if len(word) >= 6:
            mid = len(word) // 2
            pieces += [word[:mid], word[mid:]]
        elif len(word) >= 3:
            pieces.append(word)
    return " OR ".join(f'"{p}"' for p in dict.fromkeys(pieces))


def typo_prefixes(words: list[str]) -> tuple[list[str], list[str]]:
    """PostgreSQL typo candidates: (word beginnings, reversed word endings) to match as prefixes.

    A word of 6+ letters gives its two halves (one typo leaves one half intact: the first half begins
    the right word, or the second half ends it); a word of 4-5 letters gives itself both ways; shorter
    words give nothing (a prefix of 1-3 letters matches too much to be a useful candidate)."""
    heads: list[str] = []
    tails: list[str] = []
    for word in words:
        if len(word) >= 6:
            mid = len(word) // 2
            heads.append(word[:mid])
            tails.append(word[mid:][::-1])
        elif len(word) >= 4:
            heads.append(word)
            tails.append(word[::-1])
    return list(dict.fromkeys(heads)), list(dict.fromkeys(tails))


def tsquery_any_prefix(pieces: list[str]) -> str:
    """PostgreSQL ``to_tsquery``: any of the pieces as a prefix (``a:* | b:*``)."""
    return " | ".join(f"{p}:*" for p in pieces)


def tsquery_prefix(words: list[str]) -> str:
    """PostgreSQL ``to_tsquery``: all words, the last as a prefix (``a & b:*``)."""
    parts = list(words)
    if parts:
        parts[-1] += ":*"
    return " & ".join(parts)


def trigrams(word: str) -> set[str]:
    padded = f"  {word} "
    return {padded[i : i + 3] for i in range(len(padded) - 2)}


def word_similarity(query: str, title: str) -> float:
    """pg_trgm-like word similarity: per query word, the best share of its trigrams in a title word.

    Averaged over the query words; 1.0 when every word appears, ~0.9 for one typo in a long word.
    """
    q_words = tokens(query)
    t_words = tokens(title)
    if not q_words or not t_words:
        return 0.0
    t_sets = [trigrams(w) for w in t_words]
    total = 0.0
    for word in q_words:
        grams = trigrams(word)
        total += max(len(grams & t) / len(grams) for t in t_sets)
    return round(total / len(q_words), 6)


def guess_category(title: str) -> str:
    for category, pattern in _CATEGORY_HINTS:
        if pattern.search(title):
            return category
    return "other"

"""Citation keys: ``lastname2023firstword``, ASCII, unique within one export."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

# letters that NFKD does not decompose into ASCII
_FOLD = str.maketrans(
    {
        "ß": "ss",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "ł": "l",
        "Ł": "L",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "þ": "th",
        "Þ": "Th",
        "ı": "i",
    }
)
_STOPWORDS = {
    "a",
    "an",
    "the",
    "on",
    "of",
    "in",
    "for",
    "to",
    "and",
    "with",
    "at",
    "by",
    "from",
    "via",
    "is",
    "are",
    "towards",
    "toward",
}
_MATH = re.compile(r"\$[^$]*\$|\\\(.*?\\\)|<[^<>]*>")  # math, and markup such as <i>


def ascii_fold(text: str) -> str:
    """``text`` lower-cased with accents dropped, letters and digits only."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_FOLD))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return re.sub(r"[^a-z0-9]", "", plain.lower())


def first_word(title: str) -> str:
    """The first word of a title that is not a stopword, folded (math and markup left out)."""
    for word in re.split(r"[\s\-/:]+", _MATH.sub(" ", title)):
        folded = ascii_fold(word)
        if folded and folded not in _STOPWORDS:
            return folded
    return ""


def base_key(family: str, year: str | None, title: str) -> str:
    """``family`` + ``year`` + the title's first word; ``anon`` when there is no family."""
    return (ascii_fold(family) or "anon") + (year or "") + first_word(title)


def unique_keys(keys: Iterable[str]) -> list[str]:
    """The keys, in order, with later repeats suffixed ``a``, ``b``, ... (``zhang2024graph``,
    ``zhang2024grapha``), never colliding with another key of the list."""
    wanted = list(keys)
    taken = set(wanted)
    seen: set[str] = set()
    out = []
    for key in wanted:
        if key not in seen:
            seen.add(key)
            out.append(key)
            continue
        n = 0
        while (candidate := key + _letters(n)) in taken:
            n += 1
        taken.add(candidate)
        seen.add(candidate)
        out.append(candidate)
    return out


def _letters(n: int) -> str:
    """0 -> a, 25 -> z, 26 -> aa, ..."""
    out = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        out = chr(ord("a") + r) + out
    return out

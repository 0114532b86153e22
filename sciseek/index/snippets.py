"""Snippets: the passage of a text around a query's terms, with the matches marked."""

from __future__ import annotations

import re
from collections.abc import Callable


def snippet(
    terms: Callable[[str], list[str]], text: str, query: str, width: int = 280
) -> list[tuple[str, bool]]:
    """A passage of ``text`` around the query's terms: (text, is_match) segments."""
    wanted = set(terms(query))
    words = list(re.finditer(r"\w+", text))
    hits = [m for m in words if wanted and set(terms(m.group())) & wanted]
    start = 0
    if hits and hits[0].start() > width // 3:
        start = text.rfind(" ", 0, hits[0].start() - width // 4) + 1
    end = len(text) if len(text) - start <= width else text.rfind(" ", start, start + width)
    end = end if end > start else min(len(text), start + width)
    segments: list[tuple[str, bool]] = [("… ", False)] if start else []
    pos = start
    for m in hits:
        if m.start() < start or m.end() > end:
            continue
        segments += [(text[pos : m.start()], False), (m.group(), True)]
        pos = m.end()
    segments.append((text[pos:end], False))
    if end < len(text):
        segments.append((" …", False))
    return [s for s in segments if s[0]]

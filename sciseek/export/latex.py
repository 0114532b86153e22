"""Text made safe for BibTeX field values: LaTeX-special characters escaped, math kept.

- ``& % $ # _`` become ``\\& \\% \\$ \\# \\_``; ``~ ^ \\`` become ``\\textasciitilde{}``,
  ``\\textasciicircum{}``, ``\\textbackslash{}``; braces become ``\\{ \\}``.
- TeX math (``$O(n\\log n)$``, ``\\(x^2\\)``) is kept as it is: arXiv titles and abstracts are
  written in TeX, and their math is meant to be typeset. So is a character the text already
  escapes (``20\\%`` in an arXiv abstract).
- In titles, words with a capital letter after their first (``BERT``, ``GPT-4``, ``LiDAR``) are
  braced (``{BERT}``) so that styles that lower-case titles keep them.
- Anything else, non-ASCII included, stays as UTF-8: BibLaTeX (with biber) and current BibTeX
  reference managers read it as is.

BibTeX counts every brace, escaped or not, so a value whose braces would not balance (a lone
``}``) is written with ``\\textbraceleft{}``/``\\textbraceright{}`` and its math escaped.
"""

from __future__ import annotations

import re

_SIMPLE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}
_WORDY = {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
_STRICT_BRACES = {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"}
_ESCAPED = set("&%$#_{}")  # characters that, after a backslash, are already escaped
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _segments(text: str) -> list[tuple[str, bool]]:
    """``text`` cut into (segment, is_math) pieces; a backslash-escaped character and TeX math
    are kept verbatim (``is_math`` True), the rest is plain text."""
    out: list[tuple[str, bool]] = []
    plain: list[str] = []
    i, n = 0, len(text)

    def keep(piece: str) -> None:
        if plain:
            out.append(("".join(plain), False))
            plain.clear()
        out.append((piece, True))

    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPED:
            keep(text[i : i + 2])
            i += 2
            continue
        close = None
        if ch == "$":
            opener = "$$" if text.startswith("$$", i) else "$"
            close = _math_end(text, i + len(opener), opener)
        elif text.startswith("\\(", i):
            close = _math_end(text, i + 2, "\\(")
        if close is not None:
            keep(text[i:close])
            i = close
            continue
        plain.append(ch)
        i += 1
    if plain:
        out.append(("".join(plain), False))
    return out


def _math_end(text: str, start: int, opener: str) -> int | None:
    """The index just after the math that starts at ``start``, or None when it is not math
    (no closing delimiter, empty, or braces that do not balance)."""
    closer = {"$": "$", "$$": "$$", "\\(": "\\)"}[opener]
    dollar = opener == "$"
    if dollar and (start >= len(text) or text[start].isspace()):
        return None  # "$ 5": a dollar sign, not math (the rule pandoc applies)
    j = start
    while True:
        j = text.find(closer, j)
        if j < 0:
            return None
        after = text[j + len(closer) : j + len(closer) + 1]
        if closer == "\\)" or (
            text[j - 1] != "\\" and not (dollar and (text[j - 1].isspace() or after.isdigit()))
        ):
            break
        j += 1  # an escaped \$, or a $ that cannot close math ("$5 and $6")
    inner = text[start:j]
    if not inner.strip() or not _balanced(inner):
        return None
    return j + len(closer)


def _escape_plain(text: str, braces: dict[str, str] | None = None) -> str:
    table = {**_SIMPLE, **_WORDY, **(braces or {})}
    return "".join(table.get(ch, ch) for ch in text)


def _protect(text: str) -> str:
    """Plain text escaped, with words that have an inner capital braced."""
    out, pos = [], 0
    for m in _WORD.finditer(text):
        out.append(_escape_plain(text[pos : m.start()]))
        word = m.group()
        inner_capital = any(c.isupper() for c in word[1:])
        out.append("{" + _escape_plain(word) + "}" if inner_capital else _escape_plain(word))
        pos = m.end()
    out.append(_escape_plain(text[pos:]))
    return "".join(out)


def escape(text: str, *, title: bool = False) -> str:
    """``text`` as a BibTeX field value (without the enclosing braces); ``title`` also braces
    acronyms and words with inner capitals."""
    plain = _protect if title else _escape_plain
    value = "".join(seg if kept else plain(seg) for seg, kept in _segments(text))
    if _balanced(value):
        return value
    return _escape_plain(text, _STRICT_BRACES)


def verbatim(value: str) -> str:
    """A URL or DOI for a verbatim field (``url``, ``doi``): as it is, but with the characters
    BibTeX cannot carry there (braces, backslashes, whitespace) percent-encoded."""
    table = {"{": "%7B", "}": "%7D", "\\": "%5C", " ": "%20", "\t": "%09", "\n": "%0A"}
    return "".join(table.get(ch, ch) for ch in value)


def url_command(value: str) -> str:
    """``\\url{...}`` for a ``howpublished`` field: inside another command's argument ``%`` and
    ``#`` must be escaped for the url package."""
    return r"\url{" + verbatim(value).replace("%", r"\%").replace("#", r"\#") + "}"

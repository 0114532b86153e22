"""Text made safe for BibTeX field values: LaTeX-special characters escaped, math kept.

- ``& % $ # _`` become ``\\& \\% \\$ \\# \\_``; ``~ ^ \\`` become ``\\textasciitilde{}``,
  ``\\textasciicircum{}``, ``\\textbackslash{}``; braces become ``\\{ \\}``.
- TeX math (``$O(n\\log n)$``, ``\\(x^2\\)``) is kept as it is: arXiv titles and abstracts are
  written in TeX, and their math is meant to be typeset. So are a character the text already
  escapes (``20\\%`` in an arXiv abstract), accents (``Schr\\"odinger``, ``Erd\\H{o}s``) and
  the text-mode commands every LaTeX knows (``\\textbf{...}``, ``\\emph{...}``); any other
  command (an author's own ``\\method``) is escaped, since it would not compile.
- In titles, words with a capital letter after their first (``BERT``, ``GPT-4``, ``LiDAR``) are
  braced (``{BERT}``) so that styles that lower-case titles keep them.
- Anything else, non-ASCII included, stays as UTF-8: BibLaTeX (with biber) and current BibTeX
  reference managers read it as is.

BibTeX counts every brace, escaped or not, so a value whose braces would not balance (a lone
``}``) is written with ``\\textbraceleft{}``/``\\textbraceright{}`` and its math escaped.
"""

from __future__ import annotations

import re
from collections.abc import Callable

_SIMPLE = {"&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}"}
_WORDY = {"~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "\\": r"\textbackslash{}"}
_STRICT_BRACES = {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"}
_ESCAPED = set("&%$#_{}")  # characters that, after a backslash, are already escaped
_WORD = re.compile(r"[^\W_]+(?:[-'’][^\W_]+)*")
# text-mode commands every LaTeX knows, kept with their argument (arXiv text is TeX)
_TEXT_COMMANDS = {
    "textbf",
    "textit",
    "emph",
    "textsc",
    "texttt",
    "textsf",
    "textrm",
    "textsl",
    "textup",
    "underline",
    "textsuperscript",
    "textsubscript",
    "mbox",
}
_ACCENTS = set("'\"^~`=.") | set("HcvudbtrkU")
_COMMAND = re.compile(
    r"\\(?:(?:" + "|".join(sorted(_TEXT_COMMANDS)) + r"|[HcvudbtrkU])(?![A-Za-z])|['\"^~`=.])"
)


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += (ch == "{") - (ch == "}")
        if depth < 0:
            return False
    return depth == 0


def _group_end(text: str, start: int) -> int | None:
    """The index just after the brace group that opens at ``start``, or None."""
    depth = 0
    for j in range(start, len(text)):
        if text[j] == "{" and text[j - 1] != "\\":
            depth += 1
        elif text[j] == "}" and text[j - 1] != "\\":
            depth -= 1
            if depth == 0:
                return j + 1
    return None


def _command(text: str, i: int) -> tuple[str, str | None, int] | None:
    """A safe text command at ``i``: (its head, its braced argument or None, the end index)."""
    m = _COMMAND.match(text, i)
    if not m:
        return None
    head, end = m.group(), m.end()
    name = head[1:]
    if end < len(text) and text[end] == "{":
        close = _group_end(text, end)
        if close is None:
            return None
        return head, text[end + 1 : close - 1], close
    if name in _ACCENTS and end < len(text) and text[end].isalpha():
        return head + text[end], None, end + 1  # \"o, \'e
    return None


def _render(text: str, plain: Callable[[str], str]) -> str:
    """``text`` with TeX math, already-escaped characters and safe text commands kept and the
    rest passed through ``plain``."""
    out: list[str] = []
    buf: list[str] = []
    i, n = 0, len(text)

    def keep(piece: str) -> None:
        if buf:
            out.append(plain("".join(buf)))
            buf.clear()
        out.append(piece)

    while i < n:
        ch = text[i]
        if ch == "\\" and i + 1 < n and text[i + 1] in _ESCAPED:
            keep(text[i : i + 2])
            i += 2
            continue
        if ch == "\\" and (cmd := _command(text, i)):
            head, argument, i = cmd
            keep(head if argument is None else head + "{" + _render(argument, plain) + "}")
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
        buf.append(ch)
        i += 1
    if buf:
        out.append(plain("".join(buf)))
    return "".join(out)


def _math_end(text: str, start: int, opener: str) -> int | None:
    """The index just after the math that starts at ``start``, or None when it is not math
    (no closing delimiter, empty, or braces that do not balance)."""
    closer = {"$": "$", "$$": "$$", "\\(": "\\)"}[opener]
    dollar = opener == "$"
    if dollar and (start >= len(text) or text[start].isspace()):
        return None  # "$ 5": a dollar sign, not math (the rule pandoc applies)
    money = dollar and text[start].isdigit()  # "$5-$10", but "$\\times$4" is math
    j = start
    while True:
        j = text.find(closer, j)
        if j < 0:
            return None
        after = text[j + len(closer) : j + len(closer) + 1]
        if closer == "\\)" or (
            text[j - 1] != "\\"
            and not (dollar and (text[j - 1].isspace() or (after.isdigit() and money)))
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
    value = _render(text, plain)
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

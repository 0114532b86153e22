"""A long text (an abstract, an introduction) cut into overlapping passages for retrieval.

``clean`` strips what a pasted draft carries besides prose: LaTeX comments, math, citation and
reference commands (the text of ``\\emph{...}``-like commands is kept), reference markers such
as ``[12]``, ``[3, 5-7]``, ``[BHK+20]`` or ``(Smith et al., 2020)``, and URLs. ``sentences``
splits a paragraph at sentence ends (not after "e.g.", "et al.", "Fig." and the like);
``passages`` groups sentences into windows of about ``TARGET_WORDS`` words (at most
``MAX_WORDS``, under the encoder's 256-token window), each window starting with the last
sentence of the one before it.
"""

from __future__ import annotations

import re

TARGET_WORDS = 120  # a window is closed once it reaches this many words
MAX_WORDS = 180  # ... and never grows past this (a longer sentence is cut into pieces)
TAIL_WORDS = TARGET_WORDS // 3  # a shorter remainder joins the last window instead

_ESCAPES = {"\\%": "\ue000", "\\$": "\ue001", "\\&": "\ue002", "\\_": "\ue003", "\\#": "\ue004"}
_RESTORE = {v: k[1] for k, v in _ESCAPES.items()}
# a comment line goes whole; a % after a number ("75%", "5 %") is a percent sign
_COMMENT = re.compile(r"(?m)^[ \t]*%[^\n]*\n?|(?<!\d)(?<!\d )%[^\n]*")
_HEADING = re.compile(r"\\(?:sub)*(?:section|paragraph)\*?\s*\{([^{}]*)\}")
_DROPPED_ENVS = (
    r"equation|align|alignat|gather|multline|eqnarray|displaymath|math|flalign|tabular|"
    r"thebibliography|lstlisting|verbatim|tikzpicture|algorithmic"
)
_ENV = re.compile(rf"\\begin\{{({_DROPPED_ENVS})\*?\}}.*?\\end\{{\1\*?\}}", re.S)
_MATH = re.compile(r"\$\$.*?\$\$|\\\[.*?\\\]|\\\(.*?\\\)|\$[^$]*\$", re.S)
_DROPPED_COMMANDS = re.compile(
    r"\\(?:cite\w*|[a-zA-Z]*ref|label|includegraphics|bibliography\w*|input|include|url|"
    r"begin|end|documentclass|usepackage|newcommand|renewcommand|def)\*?"
    r"(?:\s*\[[^\]]*\])*(?:\s*\{[^{}]*\})?"
)
_HREF = re.compile(r"\\href\s*\{[^{}]*\}\s*\{([^{}]*)\}")
_KEPT_ARGUMENT = re.compile(r"\\[a-zA-Z]+\*?(?:\s*\[[^\]]*\])?\s*\{([^{}]*)\}")
_BARE_COMMAND = re.compile(r"\\[a-zA-Z]+\*?|\\.")
_NUMERIC_REF = re.compile(r"\[\s*\d+[a-z]?(?:\s*[-\u2013,;]\s*\d+[a-z]?)*\s*\]")
_KEY = r"[A-Z][A-Za-z+]{0,7}\d{2,4}[a-z]?"  # an alphabetic citation key such as BHK+20
_KEY_REF = re.compile(rf"\[{_KEY}(?:\s*[,;]\s*{_KEY})*\]")
_NAME = r"[A-Z][\w'\u2019\-]+(?:\s+(?:et\s+al\.?|and|&)(?:\s+[A-Z][\w'\u2019\-]+)?)?"
_AUTHOR_YEAR = re.compile(
    rf"\(\s*(?:(?:see|e\.g\.|cf\.),?\s+)?{_NAME},?\s+(?:19|20)\d{{2}}[a-z]?"
    rf"(?:\s*[;,]\s*{_NAME},?\s+(?:19|20)\d{{2}}[a-z]?)*\s*\)"
)
_URL = re.compile(r"https?://\S+|www\.\S+")
_PARAGRAPH = re.compile(r"\n\s*\n")
_SPACE = re.compile(r"\s+")
_SPACE_BEFORE_PUNCT = re.compile(r"\s+([.,;:!?)])")
_BOUNDARY = re.compile(r"[.!?]+[\"'\u201d)\]]*\s+(?=[\"'\u201c(\[]?[A-Z0-9])")
_ABBREVIATIONS = frozenset(
    ("e.g", "i.e", "al", "etc", "cf", "fig", "figs", "eq", "eqs", "sec", "secs", "tab", "ch")
    + ("vs", "approx", "resp", "no", "dr", "prof", "mr", "mrs", "ms", "st", "vol", "pp", "ref")
    + ("refs", "ca", "viz")
)


def clean(text: str) -> str:
    """``text`` without LaTeX markup, math, reference markers and URLs; paragraphs (blank lines)
    are kept, other runs of white space become one space."""
    for escaped, mark in _ESCAPES.items():
        text = text.replace(escaped, mark)
    text = _COMMENT.sub("", text)
    text = _HEADING.sub(r"\n\n\1\n\n", text)
    text = _ENV.sub(" ", text)
    text = _MATH.sub(" ", text)
    text = _HREF.sub(r"\1", text)
    text = _DROPPED_COMMANDS.sub(" ", text)
    for _ in range(5):  # nested \textbf{\emph{...}}
        text, n = _KEPT_ARGUMENT.subn(r"\1", text)
        if not n:
            break
    text = _BARE_COMMAND.sub(" ", text)
    text = text.replace("{", "").replace("}", "").replace("~", " ")
    text = text.replace("``", '"').replace("''", '"')
    text = _URL.sub(" ", text)
    text = _NUMERIC_REF.sub(" ", text)
    text = _KEY_REF.sub(" ", text)
    text = _AUTHOR_YEAR.sub(" ", text)
    for mark, char in _RESTORE.items():
        text = text.replace(mark, char)
    paragraphs = (_SPACE.sub(" ", p).strip() for p in _PARAGRAPH.split(text))
    return "\n\n".join(_SPACE_BEFORE_PUNCT.sub(r"\1", p) for p in paragraphs if p)


def sentences(paragraph: str) -> list[str]:
    """The sentences of one paragraph of clean text."""
    out, start = [], 0
    for m in _BOUNDARY.finditer(paragraph):
        before = paragraph[start : m.start()].split()
        last = before[-1].lower().rstrip(".") if before else ""
        if last in _ABBREVIATIONS or (len(last) == 1 and last.isalpha()):
            continue
        out.append(paragraph[start : m.end()].strip())
        start = m.end()
    tail = paragraph[start:].strip()
    return [s for s in [*out, tail] if s]


def _pieces(sentence: str) -> list[list[str]]:
    words = sentence.split()
    return [words[i : i + MAX_WORDS] for i in range(0, len(words), MAX_WORDS)]


def passages(text: str) -> list[str]:
    """The retrieval passages of a text: cleaned, then sentence windows of about
    ``TARGET_WORDS`` words (at most ``MAX_WORDS``), consecutive windows sharing a sentence."""
    units = [
        piece
        for paragraph in clean(text).split("\n\n")
        for sentence in sentences(paragraph)
        for piece in _pieces(sentence)
    ]
    out: list[str] = []
    i, n = 0, len(units)
    while i < n:
        j, words = i, 0
        while j < n and words < TARGET_WORDS and (j == i or words + len(units[j]) <= MAX_WORDS):
            words += len(units[j])
            j += 1
        rest = sum(len(u) for u in units[j:])
        if j < n and rest < TAIL_WORDS and words + rest <= MAX_WORDS:
            j = n
        out.append(" ".join(w for unit in units[i:j] for w in unit))
        if j >= n:
            break
        i = j - 1 if j - 1 > i else j
    return out

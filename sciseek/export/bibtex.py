"""BibTeX entries, as Zotero, JabRef and BibLaTeX read them.

An arXiv paper is ``@misc`` with ``eprint``, ``archivePrefix = {arXiv}`` and ``primaryClass``
(BibLaTeX's ``eprinttype``/``eprintclass`` aliases); a paper with a journal is ``@article``;
anything else ``@misc`` with ``howpublished = {\\url{...}}`` beside ``url``. Names are written
``von Last, Jr, First``; organisations braced whole. Text is escaped by ``latex.escape`` (TeX
math kept, acronyms in titles braced, non-ASCII left as UTF-8, which BibLaTeX reads).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from sciseek.ingest.papers import Paper

from .latex import escape, url_command, verbatim
from .names import Name
from .reference import Reference, references

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_AND = re.compile(r"\band\b", re.IGNORECASE)
# an escape or accent as escape() writes it: \&, \textasciitilde{}, \'e, \d{o}
_SPECIAL = re.compile(r"\\(?:[A-Za-z]+(?:\{[^{}]*\})?|['\"^~`=.](?:\{[^{}]*\}|\w)?|.)")


def _name_part(text: str) -> str:
    # BibTeX splits author lists on the word "and" at brace level 0, and reads a braced
    # special character ({\'e}) as one letter of a name: brace both
    braced = _SPECIAL.sub(lambda m: "{" + m.group() + "}", escape(text))
    return _AND.sub(lambda m: "{" + m.group() + "}", braced)


def bibtex_name(name: Name) -> str:
    """One name in BibTeX's ``von Last, Jr, First`` form (an organisation braced whole)."""
    if name.literal:
        return "{" + escape(name.literal) + "}"
    last = _name_part(name.family_with_particle)
    if name.suffix:
        return f"{last}, {_name_part(name.suffix)}, {_name_part(name.given)}"
    return f"{last}, {_name_part(name.given)}" if name.given else last


def _fields(ref: Reference) -> list[tuple[str, str]]:
    """(name, value as written) pairs; values already braced or bare macros."""

    def text(value: str | None, *, title: bool = False) -> str | None:
        return "{" + escape(value, title=title) + "}" if value else None

    def raw(value: str | None) -> str | None:
        return "{" + verbatim(value) + "}" if value else None

    fields: list[tuple[str, str | None]] = [
        ("title", text(ref.title, title=True)),
        ("author", "{" + " and ".join(bibtex_name(n) for n in ref.names) + "}"),
        ("year", raw(ref.year)),
        ("month", MONTHS[ref.month - 1] if ref.month else None),
    ]
    if ref.kind == "preprint":
        fields += [
            ("eprint", raw(ref.eprint)),
            ("archivePrefix", "{arXiv}"),
            ("primaryClass", raw(ref.primary_class)),
            ("note", text(ref.journal_ref)),
        ]
    elif ref.kind == "article":
        fields += [
            ("journal", text(ref.journal)),
            ("volume", text(ref.volume)),
            ("number", text(ref.number)),
            ("pages", text(ref.pages.replace("-", "--") if ref.pages else None)),
        ]
    elif ref.url:
        fields.append(("howpublished", "{" + url_command(ref.url) + "}"))
    fields += [
        ("doi", raw(ref.doi)),
        ("url", raw(ref.url)),
        ("keywords", text(", ".join(ref.categories))),
        ("abstract", text(ref.abstract)),
    ]
    return [(k, v) for k, v in fields if v and v != "{}"]


def entry(ref: Reference) -> str:
    """One BibTeX entry."""
    kind = "article" if ref.kind == "article" else "misc"
    body = ",\n".join(f"  {name} = {value}" for name, value in _fields(ref))
    return f"@{kind}{{{ref.key},\n{body}\n}}\n"


def to_bibtex(papers: Iterable[Paper]) -> str:
    """The papers as a BibTeX file (UTF-8 text), one entry each, in order."""
    return "\n".join(entry(r) for r in references(papers))

"""RIS records (``TY  - ... ER  -``), as EndNote, Zotero and Mendeley import them.

An arXiv paper is a generic record (``GEN``) published by arXiv with its id as accession
number (``AN  - arXiv:2401.00001``); a paper with a journal is ``JOUR``. Authors are one
``AU  - Last, First, Suffix`` line each, in order. Lines end with CRLF, as the format asks.
"""

from __future__ import annotations

from collections.abc import Iterable

from sciseek.ingest.papers import Paper

from .reference import Reference, references

EOL = "\r\n"


def _line(tag: str, value: str | None) -> str:
    text = " ".join((value or "").split())
    return f"{tag}  - {text}{EOL}" if text else ""


def record(ref: Reference) -> str:
    """One RIS record."""
    kind = "JOUR" if ref.kind == "article" else "GEN"
    out = [_line("TY", kind), _line("ID", ref.key), _line("TI", ref.title)]
    out += [_line("AU", n.inverted) for n in ref.names]
    out.append(_line("PY", ref.year))
    if ref.year and ref.month and ref.day:
        out.append(_line("DA", f"{ref.year}/{ref.month:02d}/{ref.day:02d}/"))
    if ref.kind == "preprint":
        out += [_line("PB", "arXiv"), _line("AN", f"arXiv:{ref.eprint}")]
        out.append(_line("N1", ref.journal_ref))
    if ref.kind == "article":
        out += [_line("JO", ref.journal), _line("VL", ref.volume), _line("IS", ref.number)]
        first, _, last = (ref.pages or "").partition("-")
        out += [_line("SP", first.strip("-")), _line("EP", last.strip("-"))]
    out += [_line("KW", c) for c in ref.categories]
    out += [_line("DO", ref.doi), _line("UR", ref.url), _line("AB", ref.abstract)]
    out.append(f"ER  - {EOL}")
    return "".join(out)


def to_ris(papers: Iterable[Paper]) -> str:
    """The papers as a RIS file, one record each, in order."""
    return EOL.join(record(r) for r in references(papers))

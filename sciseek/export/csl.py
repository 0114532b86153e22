"""CSL-JSON items, the input of citeproc processors (Pandoc, Zotero, Mendeley).

An arXiv paper is an ``article`` (CSL's type for preprints) published by arXiv with number
``arXiv:ID``, as Zotero writes it; a paper with a journal is an ``article-journal``; anything
else a ``document``. Names carry ``family``, ``given``, ``non-dropping-particle`` and
``suffix``; an organisation is a ``literal``. Each item's ``id`` is its citation key, the same
one the BibTeX export gives it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sciseek.ingest.papers import Paper

from .names import Name
from .reference import Reference, references

_TYPES = {"preprint": "article", "article": "article-journal", "misc": "document"}


def csl_name(name: Name) -> dict[str, str]:
    """One name as a CSL name object (empty parts left out)."""
    if name.literal:
        return {"literal": name.literal}
    parts = {
        "family": name.family,
        "given": name.given,
        "non-dropping-particle": name.particle,
        "suffix": name.suffix,
    }
    return {k: v for k, v in parts.items() if v}


def item(ref: Reference) -> dict[str, Any]:
    """One CSL-JSON item."""
    out: dict[str, Any] = {"id": ref.key, "type": _TYPES[ref.kind], "title": ref.title}
    if ref.names:
        out["author"] = [csl_name(n) for n in ref.names]
    if ref.year:
        parts = [int(ref.year)] + [p for p in (ref.month, ref.day) if p]
        out["issued"] = {"date-parts": [parts]}
    if ref.kind == "preprint":
        out |= {"publisher": "arXiv", "number": f"arXiv:{ref.eprint}"}
    optional = {
        "container-title": ref.journal,
        "volume": ref.volume,
        "issue": ref.number,
        "page": ref.pages,
        "note": ref.journal_ref,
        "DOI": ref.doi,
        "URL": ref.url,
        "keyword": ", ".join(ref.categories),
        "abstract": ref.abstract,
    }
    out |= {k: v for k, v in optional.items() if v}
    return out


def to_csl_json(papers: Iterable[Paper]) -> list[dict[str, Any]]:
    """The papers as CSL-JSON items (a JSON-ready list), in order."""
    return [item(r) for r in references(papers)]

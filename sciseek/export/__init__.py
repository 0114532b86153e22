"""Papers exported as BibTeX, RIS and CSL-JSON for reference managers.

``to_bibtex(papers)``, ``to_ris(papers)`` and ``to_csl_json(papers)`` take ``Paper`` objects;
``FORMATS`` names each format with its media type and file extension, for the web and the
command line. Citation keys are shared by the formats (the CSL-JSON ``id`` is the BibTeX key).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sciseek.ingest.papers import Paper

from .bibtex import to_bibtex
from .csl import to_csl_json
from .ris import to_ris
from .selection import MAX_IDS, lookup

__all__ = ["FORMATS", "MAX_IDS", "Format", "lookup", "to_bibtex", "to_csl_json", "to_ris"]


@dataclass(frozen=True)
class Format:
    """An export format: its name, label, media type, file extension and writer."""

    name: str
    label: str
    media_type: str
    extension: str
    render: Callable[[Iterable[Paper]], str]


def _csl_text(papers: Iterable[Paper]) -> str:
    return json.dumps(to_csl_json(papers), ensure_ascii=False, indent=2) + "\n"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("bibtex", "BibTeX", "application/x-bibtex", "bib", to_bibtex),
        Format("ris", "RIS", "application/x-research-info-systems", "ris", to_ris),
        Format("csl", "CSL-JSON", "application/vnd.citationstyles.csl+json", "json", _csl_text),
    )
}

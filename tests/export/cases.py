"""Tricky names and titles the export tests share."""

from __future__ import annotations

from sciseek.ingest.papers import Paper

# author as given -> (given, particle, family, suffix)
NAMES = {
    "Ludwig van Beethoven": ("Ludwig", "van", "Beethoven", ""),
    "Jean-Pierre de la Fontaine": ("Jean-Pierre", "de la", "Fontaine", ""),
    "José María García-López": ("José María", "", "García-López", ""),
    "Martin Luther King Jr.": ("Martin Luther", "", "King", "Jr."),
    "Martin Luther King, Jr.": ("Martin Luther", "", "King", "Jr."),
    "King, Jr., Martin Luther": ("Martin Luther", "", "King", "Jr."),
    "Xiaodong Liu": ("Xiaodong", "", "Liu", ""),
    "Xue Bin Peng": ("Xue Bin", "", "Peng", ""),
    "Min-jun Kim": ("Min-jun", "", "Kim", ""),
    "Plato": ("", "", "Plato", ""),
    "Turing, Alan M.": ("Alan M.", "", "Turing", ""),
    "van Beethoven, Ludwig": ("Ludwig", "van", "Beethoven", ""),
    "Zoë Ødegård": ("Zoë", "", "Ødegård", ""),
    "Ronald A. Fisher III": ("Ronald A.", "", "Fisher", "III"),
    "Weinan E": ("Weinan", "", "E", ""),
}
GROUP = "The ATLAS Collaboration"

TITLE = (
    "Sets {a, b} & 50% of x_y: $x^2$ and $O(n\\log n)$ with BERT on café data #1 ~ ^ \\ for $5 each"
)
ABSTRACT = "We cut costs by 20.43\\% (see $\\alpha_1$) & keep {braces} for Ødegård's data_set."


def tricky_paper(pid: str = "2401.00001") -> Paper:
    """An arXiv paper with every tricky name, title and abstract."""
    return Paper(
        pid,
        TITLE,
        ABSTRACT,
        authors=[*NAMES, GROUP],
        categories=["cs.CL", "cs.IR"],
        published="2024-03-05",
        url=f"https://arxiv.org/abs/{pid}",
    )

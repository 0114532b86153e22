"""The /export downloads and the export links on the pages."""

import json
import re
from html import unescape

import bibtexparser
import pytest
import rispy
from fastapi.testclient import TestClient

from sciseek import Engine, Paper, read_papers
from sciseek.export import MAX_IDS
from sciseek.web.app import create_app
from tests.export.cases import TITLE, tricky_paper
from tests.helpers import FIXTURES

OLD_STYLE = "hep-th/9901001"


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("export") / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        engine.add(
            [
                tricky_paper("2407.00001"),
                Paper(OLD_STYLE, "Strings on Branes", authors=["Edward Witten"]),
                Paper('doc-"<17>', "A <b>report</b>", url="https://example.org/r"),
            ]
        )
        with TestClient(create_app(engine)) as c:
            yield c


def _error(html: str) -> str:
    return unescape(re.search(r'<p class="error" role="alert">([^<]*)</p>', html).group(1))


def bib_keys(text: str) -> list[str]:
    library = bibtexparser.parse_string(text)
    assert not library.failed_blocks
    return [e["eprint"] if "eprint" in e.fields_dict else e.key for e in library.entries]


def test_one_paper_as_bibtex_is_an_attachment(client):
    r = client.get("/export", params={"format": "bibtex", "id": "2407.00001"})
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/x-bibtex; charset=utf-8"
    assert r.headers["content-disposition"] == 'attachment; filename="beethoven2024sets.bib"'
    (entry,) = bibtexparser.parse_string(r.text).entries
    assert entry["eprint"] == "2407.00001" and entry["archivePrefix"] == "arXiv"
    head = client.head("/export", params={"format": "bibtex", "id": "2407.00001"})
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-disposition"] == r.headers["content-disposition"]


def test_a_selection_in_the_order_given_in_each_format(client):
    ids = ["2402.00003", OLD_STYLE, "2401.00001"]
    bib = client.get("/export", params={"format": "bibtex", "id": ids})
    assert bib_keys(bib.text) == ids
    assert bib.headers["content-disposition"] == 'attachment; filename="sciseek-3-papers.bib"'

    ris = client.get("/export", params={"format": "ris", "id": ids})
    assert ris.headers["content-type"] == "application/x-research-info-systems; charset=utf-8"
    assert ris.headers["content-disposition"].endswith('.ris"')
    records = rispy.loads(ris.text)
    assert [r["title"] for r in records][1] == "Strings on Branes"
    assert records[1]["authors"] == ["Witten, Edward"]

    csl = client.get("/export", params={"format": "csl", "id": ids})
    assert csl.headers["content-type"] == "application/vnd.citationstyles.csl+json"
    assert csl.headers["content-disposition"].endswith('.json"')
    items = json.loads(csl.text)
    assert [i["number"] for i in items] == [f"arXiv:{i}" for i in ids]


def test_ids_with_prefix_version_or_odd_characters(client):
    r = client.get("/export", params={"format": "csl", "id": ["arXiv:2407.00001v3"]})
    assert r.status_code == 200 and json.loads(r.text)[0]["title"] == TITLE
    r = client.get("/export", params={"format": "bibtex", "id": 'doc-"<17>'})
    assert r.status_code == 200 and r.text.startswith("@misc{anonreport,")


def test_unknown_ids_are_a_404_that_names_them(client):
    r = client.get("/export", params={"id": ["2401.00001", "nope-1"]})
    assert r.status_code == 404
    assert _error(r.text) == "no paper with id 'nope-1'"
    r = client.get("/export", params={"format": "ris", "id": ["<x>", "2401.00001", "y"]})
    assert r.status_code == 404
    assert _error(r.text) == "no papers with ids '<x>', 'y'"
    assert "<x>" not in r.text  # escaped in the page


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"format": "endnote", "id": "2401.00001"}, "unknown export format"),
        ({"format": "bibtex"}, "select at least one paper"),
        ({"id": "2401.00001", "q": "retrieval"}, "not both"),
        ({"id": [f"x{i}" for i in range(MAX_IDS + 1)]}, f"at most {MAX_IDS} ids"),
        ({"q": "retrieval", "from": "2024-13-01"}, "date"),
        ({"q": "retrieval", "page": "0"}, "page"),
    ],
)
def test_bad_requests_are_a_422_with_a_reason(client, params, message):
    r = client.get("/export", params=params)
    assert r.status_code == 422
    assert message in _error(r.text)


def _results(html: str) -> str:
    return html.split('<section class="results">', 1)[1]


def _page_ids(html: str) -> list[str]:
    return re.findall(r'<article class="paper" data-id="([^"]+)"', _results(html))


def _page_titles(html: str) -> list[str]:
    return [unescape(t) for t in re.findall(r'<a class="title" [^>]*>([^<]*)</a>', _results(html))]


@pytest.mark.parametrize("page", [1, 2])
def test_a_search_page_exports_the_hits_it_shows(client, page):
    params = {"q": "neural retrieval", "mode": "hybrid", "page": str(page)}
    shown = _page_titles(client.get("/", params=params).text)
    assert shown  # 18 papers: two pages of hits
    r = client.get("/export", params={"format": "ris", **params})
    assert r.status_code == 200
    assert r.headers["content-disposition"] == (
        f'attachment; filename="sciseek-search-page-{page}.ris"'
    )
    assert [rec["title"] for rec in rispy.loads(r.text)] == shown


def test_a_sorted_search_page_exports_in_its_sort_order(client):
    params = {"q": "neural retrieval", "mode": "hybrid", "sort": "newest"}
    html = client.get("/", params=params).text
    shown = _page_titles(html)
    assert "sort=newest" in re.search(r'class="export-ris" href="([^"]+)"', html).group(1)
    relevance = _page_titles(client.get("/", params={**params, "sort": "relevance"}).text)
    assert shown != relevance  # the fixture's hits are not in date order by relevance
    r = client.get("/export", params={"format": "ris", **params})
    assert [rec["title"] for rec in rispy.loads(r.text)] == shown


def test_search_export_applies_the_page_filters(client):
    params = {"q": "retrieval", "category": "cs.CV", "format": "csl"}
    items = json.loads(client.get("/export", params=params).text)
    assert items and all("cs.CV" in i["keyword"] for i in items)


def test_the_paper_page_links_to_its_exports(client):
    html = client.get(f"/papers/{OLD_STYLE}").text
    for fmt, label in (("bibtex", "BibTeX"), ("ris", "RIS"), ("csl", "CSL-JSON")):
        assert f'href="/export?format={fmt}&amp;id=hep-th/9901001" download>{label}</a>' in html
    odd = client.get("/papers/doc-%22%3C17%3E").text
    assert "id=doc-%22%3C17%3E" in odd and 'doc-"<17>' not in odd


def test_the_search_page_offers_page_and_selection_exports(client):
    html = client.get("/", params={"q": "neural retrieval", "category": "cs.IR"}).text
    assert 'href="/export?format=bibtex&amp;q=neural+retrieval&amp;mode=hybrid' in html
    assert "category=cs.IR" in html
    assert '<form class="export" id="export-selection" action="/export" method="get">' in html
    boxes = re.findall(r'<input class="pick" type="checkbox" name="id" value="([^"]+)"', html)
    assert boxes == _page_ids(html)
    assert html.count('form="export-selection"') == len(boxes)
    assert '<button type="submit" name="format" value="ris">RIS</button>' in html
    # a selection submitted by that form
    r = client.get("/export", params={"format": "bibtex", "id": boxes[:2]})
    assert bib_keys(r.text) == boxes[:2]

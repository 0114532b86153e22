"""Draft search on the web: POST /api/search and the /draft page."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from sciseek import Engine, Paper, read_papers
from sciseek.search.draft import MAX_CHARS
from sciseek.web.app import create_app
from sciseek.web.site import DRAFT_BODY
from tests.helpers import FIXTURES

XSS = "<script>alert(1)</script>"
PROTEIN = (
    "Attention layers over pairs of residues let a transformer infer the folded "
    "three-dimensional shape of a protein from its amino acid sequence. "
)
MOLECULE = (
    "Message passing networks predict solubility and toxicity of small molecules from their "
    "chemical graphs. "
)
DRAFT = "\n\n".join([PROTEIN * 6, MOLECULE * 8, PROTEIN * 6])


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("draft-web") / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        engine.add(
            [
                Paper(
                    "xss-1",
                    XSS + " in titles",
                    f"Abstract with {XSS} inside.",
                    authors=["<b>Mallory</b>"],
                    categories=["cs.CR"],
                    published="2024-07-01",
                )
            ]
        )
        with TestClient(create_app(engine)) as c:
            yield c


def test_api_draft_search_returns_the_search_hits(client):
    r = client.post("/api/search", json={"text": DRAFT, "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["mode"] == "hybrid" and body["passages"] > 2 and body["more"] is True
    ids = [h["id"] for h in body["hits"]]
    assert len(ids) == 3 and ids.index("2403.00006") < ids.index("2402.00003")
    plain = client.get("/api/search", params={"q": "protein structure"}).json()["hits"][0]
    assert set(body["hits"][0]) == set(plain)
    molecule = next(h for h in body["hits"] if h["id"] == "2402.00003")
    snippet = molecule["snippet"]
    marked = {snippet["text"][a:b].lower() for a, b in snippet["highlights"]}
    assert {"solubility", "toxicity"} <= marked


def test_api_draft_of_one_sentence_is_the_plain_search(client):
    for mode in ("hybrid", "dense", "bm25"):
        draft = client.post("/api/search", json={"text": "reciprocal rank fusion", "mode": mode})
        plain = client.get("/api/search", params={"q": "reciprocal rank fusion", "mode": mode})
        assert draft.json()["passages"] == 1
        assert [h["id"] for h in draft.json()["hits"]] == [h["id"] for h in plain.json()["hits"]]


def test_api_draft_filters(client):
    body = {"text": DRAFT, "k": 12, "category": ["cs.LG"], "from": "2024-03-01", "to": "2024-12-31"}
    hits = client.post("/api/search", json=body).json()["hits"]
    assert hits and "2403.00006" in [h["id"] for h in hits]
    for h in hits:
        assert "cs.LG" in h["categories"] and "2024-03-01" <= h["published"] <= "2024-12-31"


@pytest.mark.parametrize(
    "body",
    [
        {"text": ""},
        {"text": "   \n "},
        {"text": "x" * (MAX_CHARS + 1)},
        {"text": r"\cite{a} [12]"},
        {"text": "protein", "mode": "telepathy"},
        {"text": "protein", "k": 0},
        {"text": "protein", "k": 101},
        {"text": "protein", "from": "yesterday"},
        {"text": "protein", "from": "2024-05-01", "to": "2024-01-01"},
        {"text": "protein", "colour": "blue"},
        {"text": 42},
        {"mode": "dense"},
    ],
)
def test_api_draft_bad_input_is_422_with_a_short_message(client, body):
    r = client.post("/api/search", json=body)
    assert r.status_code == 422
    assert r.json()["detail"] and len(r.content) < 2000  # the text is not echoed back


def test_api_draft_body_limit(client):
    accented = ("éé " * MAX_CHARS)[:MAX_CHARS]  # JSON-escaped: over 64 KiB, under the limit
    payload = json.dumps({"text": accented, "mode": "bm25"})
    assert 64 * 1024 < len(payload) <= DRAFT_BODY
    r = client.post("/api/search", content=payload, headers={"content-type": "application/json"})
    assert r.status_code == 200
    huge = json.dumps({"text": "a" * DRAFT_BODY})
    r = client.post("/api/search", content=huge, headers={"content-type": "application/json"})
    assert r.status_code == 413


def test_search_page_has_the_draft_form(client):
    page = client.get("/").text
    assert 'action="/draft"' in page and 'name="text"' in page
    assert f'maxlength="{MAX_CHARS}"' in page


def test_draft_page_renders_results_and_keeps_the_draft(client):
    r = client.post("/draft", data={"text": DRAFT, "mode": "hybrid"})
    assert r.status_code == 200
    assert 'href="/papers/2403.00006"' in r.text and 'href="/papers/2402.00003"' in r.text
    assert r.text.index('href="/papers/2403.00006"') < r.text.index('href="/papers/2402.00003"')
    assert "draft of" in r.text and "<mark>" in r.text
    assert '<details class="draft" open>' in r.text and "Attention layers over pairs" in r.text
    r = client.post("/draft", data={"text": DRAFT, "category": "cs.LG", "from": "2024-03-01"})
    assert 'href="/papers/2403.00006"' in r.text and 'href="/papers/2401.00001"' not in r.text


def test_draft_page_escapes_the_draft_and_the_papers(client):
    text = f"{XSS} in titles. Abstract with {XSS} inside. " * 20
    r = client.post("/draft", data={"text": text, "mode": "bm25"})
    assert r.status_code == 200
    assert XSS not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    assert 'href="/papers/xss-1"' in r.text


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": ""}, "no words"),
        ({"text": "marker " + "x" * MAX_CHARS}, "the limit is 20,000"),
        ({"text": "protein", "from": "yesterday"}, "yesterday"),
        ({"text": "protein", "mode": "telepathy"}, "Invalid input"),
    ],
)
def test_draft_page_errors_are_friendly(client, data, message):
    r = client.post("/draft", data=data)
    assert r.status_code == 422
    assert 'role="alert"' in r.text and message in r.text
    if data["text"].startswith("marker"):
        assert "marker x" in r.text  # the draft is kept for the next try

"""The JSON API and HTML pages, through FastAPI's test client (a real ASGI app and engine)."""

import pytest
from fastapi.testclient import TestClient

from sciseek import Engine, Paper, read_papers
from sciseek.ingest.papers import paper_from_dict
from sciseek.web.app import create_app
from tests.helpers import FIXTURES

XSS = "<script>alert(1)</script>"
SITE = {"origin": "http://testserver"}


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    with Engine.open(tmp_path_factory.mktemp("web") / "data") as engine:
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
                ),
                # stored as it came, the way a data dir indexed before links were checked has it
                Paper("js-url", "A paper whose url is a script", url="javascript:alert(5)"),
            ]
        )
        engine.add(
            [paper_from_dict({"id": "js-read", "title": "Read in", "url": "javascript:alert(6)"})]
        )
        with TestClient(create_app(engine)) as c:
            yield c


def test_health_and_timing_header(client):
    r = client.get("/api/health")
    assert r.status_code == 200
    body = r.json()
    assert (body["status"], body["papers"]) == ("ok", 15)
    assert body["indexes"]["lexical"] == {"documents": 15, "papers": 15, "up_to_date": True}
    assert body["indexes"]["dense"] == {
        "documents": 15,
        "papers": 15,
        "up_to_date": True,
        "pending": 0,
    }
    assert r.headers["x-response-time"].endswith("ms")


def test_search_api_with_snippets_modes_and_filters(client):
    r = client.get("/api/search", params={"q": "reciprocal rank fusion", "k": 3})
    body = r.json()
    assert r.status_code == 200 and body["mode"] == "hybrid"
    top = body["hits"][0]
    assert top["id"] == "2401.00002"
    snippet = top["snippet"]
    marked = [snippet["text"][a:b].lower() for a, b in snippet["highlights"]]
    assert "rank" in marked and "fusion" in marked
    for mode in ("bm25", "dense", "sparse"):
        r = client.get("/api/search", params={"q": "protein structure", "mode": mode})
        assert r.status_code == 200 and r.json()["hits"][0]["id"] == "2403.00006"
    r = client.get(
        "/api/search",
        params={"q": "learning", "category": "cs.RO", "from": "2024-06-01", "to": "2024-12-31"},
    )
    assert [h["id"] for h in r.json()["hits"]] == ["2406.00012"]


def test_search_api_min_score_filters_on_calibrated_relevance(client):
    params = {"q": "protein structure prediction", "k": 12, "mode": "bm25"}
    every = client.get("/api/search", params={**params, "min_score": 1e-6}).json()["hits"]
    assert every and all(0 < h["relevance"] < 1 for h in every)
    values = sorted({h["relevance"] for h in every})  # rounded to 4 places in the JSON
    cut = (values[-2] + values[-1]) / 2
    kept = client.get("/api/search", params={**params, "min_score": cut}).json()["hits"]
    assert [h["id"] for h in kept] == [h["id"] for h in every if h["relevance"] >= cut]
    assert len(kept) < len(every)
    assert client.get("/api/search", params={**params, "min_score": 1.5}).status_code == 422


def test_search_pagination(client):
    first = client.get("/api/search", params={"q": "retrieval", "k": 3}).json()
    second = client.get("/api/search", params={"q": "retrieval", "k": 3, "offset": 3}).json()
    assert first["more"] is True
    ids1 = [h["id"] for h in first["hits"]]
    ids2 = [h["id"] for h in second["hits"]]
    assert len(ids1) == 3 and not set(ids1) & set(ids2)


@pytest.mark.parametrize(
    "params",
    [
        {"q": ""},
        {"q": "   "},
        {"q": "x" * 10_000},
        {"q": "x", "k": 0},
        {"q": "x", "k": 101},
        {"q": "x", "mode": "telepathy"},
        {"q": "x", "from": "yesterday"},
        {"q": "x", "from": "2024-05-01", "to": "2024-01-01"},
        {"q": "x", "offset": -1},
        {},
    ],
)
def test_bad_search_input_is_a_422(client, params):
    r = client.get("/api/search", params=params)
    assert r.status_code == 422 and "detail" in r.json()


def test_paper_similar_and_unknown_ids(client):
    r = client.get("/api/papers/2403.00006")
    assert r.status_code == 200 and r.json()["title"].startswith("Protein")
    r = client.get("/api/papers/2403.00006/similar", params={"k": 2})
    ids = [h["id"] for h in r.json()["hits"]]
    assert len(ids) == 2 and "2403.00006" not in ids
    for url in ("/api/papers/nope", "/api/papers/nope/similar"):
        assert client.get(url).status_code == 404
    assert client.post("/api/papers/nope/upvote", headers=SITE).status_code == 404
    r = client.get("/papers/nope")
    assert r.status_code == 404 and "no paper" in r.text


def test_new_lists_most_recent_first(client):
    papers = client.get("/api/new", params={"k": 3}).json()["papers"]
    assert [p["id"] for p in papers] == ["xss-1", "2406.00012", "2406.00011"]
    assert client.get("/api/new", params={"k": 0}).status_code == 422


def browser(app, paper_id="2404.00008"):
    """A client that opened a paper page, as a browser does before it upvotes."""
    c = TestClient(app)
    assert c.get(f"/papers/{paper_id}").status_code == 200
    return c


def test_upvotes_are_one_per_browser_and_show_in_trending(client):
    first = browser(client.app)
    r = first.post("/api/papers/2404.00008/upvote", headers=SITE)
    assert r.status_code == 200 and r.json() == {"id": "2404.00008", "upvoted": True, "votes": 1}
    again = first.post("/api/papers/2404.00008/upvote", headers=SITE)
    assert again.json()["votes"] == 1  # idempotent for this browser
    other = browser(client.app)
    assert other.post("/api/papers/2404.00008/upvote", headers=SITE).json()["votes"] == 2
    trending = client.get("/api/trending").json()["papers"]
    assert trending[0]["id"] == "2404.00008" and trending[0]["votes"] == 2
    undo = first.delete("/api/papers/2404.00008/upvote", headers=SITE)
    assert undo.json() == {"id": "2404.00008", "upvoted": False, "votes": 1}
    assert client.get("/api/papers/2404.00008").json()["votes"] == 1


def test_cross_site_forged_and_cookieless_votes_are_refused(client):
    voter = browser(client.app, "2402.00003")
    for headers in (
        {},
        {"origin": "https://evil.example"},
        {"referer": "https://evil.example/page"},
    ):
        r = voter.post("/api/papers/2402.00003/upvote", headers=headers)
        assert r.status_code == 403, headers
    for cookie in (None, "forged.0000"):
        scripted = TestClient(client.app)
        if cookie:
            scripted.cookies.set("sciseek_voter", cookie)
        r = scripted.post("/api/papers/2402.00003/upvote", headers=SITE)
        assert r.status_code == 403 and "opened the paper's page" in r.json()["detail"]
    assert client.get("/api/papers/2402.00003").json()["votes"] == 0


def test_votes_from_one_address_are_bounded(tmp_path):
    from sciseek.search.listings import VOTES_PER_CLIENT_HOUR

    with Engine.open(tmp_path / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"), dense=False)
        app = create_app(engine)
        codes = []
        for _ in range(VOTES_PER_CLIENT_HOUR + 3):  # a new "browser" each time, one address
            codes.append(browser(app).post("/api/papers/2404.00008/upvote", headers=SITE))
        assert [r.status_code for r in codes] == [200] * VOTES_PER_CLIENT_HOUR + [429] * 3
        assert "upvotes an hour" in codes[-1].json()["detail"]
        assert engine.store.vote_counts(["2404.00008"]) == {"2404.00008": VOTES_PER_CLIENT_HOUR}


def test_html_pages_escape_everything(client):
    r = client.get("/", params={"q": XSS})
    assert r.status_code == 200
    assert XSS not in r.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in r.text
    r = client.get("/papers/xss-1")
    assert XSS not in r.text and "<b>Mallory</b>" not in r.text
    assert "&lt;b&gt;Mallory&lt;/b&gt;" in r.text
    r = client.get("/new")
    assert XSS not in r.text


def test_html_search_page_results_and_friendly_errors(client):
    r = client.get("/", params={"q": "graph neural networks molecules"})
    assert r.status_code == 200
    assert 'href="/papers/2402.00003"' in r.text and "<mark>" in r.text
    assert 'href="https://arxiv.org/abs/2402.00003"' in r.text
    r = client.get("/", params={"q": "x", "from": "not-a-date"})
    assert r.status_code == 422 and 'role="alert"' in r.text
    r = client.get("/", params={"q": "x", "mode": "telepathy"})
    assert r.status_code == 422 and "Invalid input" in r.text
    home = client.get("/")
    assert home.status_code == 200 and 'name="q"' in home.text


def test_html_upvote_form_redirects_back(client):
    client.cookies.clear()
    client.get("/papers/2405.00010")
    r = client.post(
        "/papers/2405.00010/upvote",
        data={"on": "true"},
        headers={"referer": "http://testserver/papers/2405.00010"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/papers/2405.00010"
    page = client.get("/papers/2405.00010")
    assert "upvoted" in page.text
    r = client.post("/papers/2405.00010/upvote", data={"on": "true"}, follow_redirects=False)
    assert r.status_code == 403
    client.cookies.clear()


def test_static_assets_and_openapi_are_served_locally(client):
    assert client.get("/static/style.css").status_code == 200
    assert client.get("/static/app.js").status_code == 200
    assert client.get("/docs").status_code == 200
    schema = client.get("/openapi.json").json()
    assert {"/api/search", "/api/new", "/api/trending", "/api/health"} <= set(schema["paths"])
    home = client.get("/").text
    assert "http://" not in home.replace("http://testserver", "") and "https://" not in home


def test_a_url_that_is_not_a_web_link_is_never_a_link(client):
    for pid, script in (("js-url", "javascript:alert(5)"), ("js-read", "javascript:alert(6)")):
        page = client.get(f"/papers/{pid}")
        assert page.status_code == 200
        assert "javascript:" not in page.text.replace(f">{script}<", "><")
        assert f'href="{script}"' not in page.text
        assert client.get(f"/api/papers/{pid}").json()["url"] is None
    assert '<span class="url-text"' in client.get("/papers/js-read").text


@pytest.mark.parametrize("url", ["/", "/papers/2403.00006", "/api/health", "/api/new", "/new"])
def test_head_answers_like_get_without_a_body(client, url):
    got = client.get(url)
    head = client.head(url)
    assert head.status_code == got.status_code == 200
    assert head.content == b"" and head.headers["content-type"] == got.headers["content-type"]
    assert client.head("/papers/nope").status_code == 404


def test_options_names_the_methods_of_a_route(client):
    r = client.options("/api/subscriptions")
    assert r.status_code == 204
    assert set(r.headers["allow"].split(", ")) == {"POST", "OPTIONS"}
    r = client.options("/api/search")
    assert set(r.headers["allow"].split(", ")) == {"GET", "HEAD", "POST", "OPTIONS"}
    assert client.options("/no/such/route").status_code == 404


def test_request_bodies_are_bounded(client):
    from sciseek.web.plumbing import MAX_BODY

    big = {"email": "ada@example.org", "queries": ["x" * (MAX_BODY + 1)]}
    r = client.post("/api/subscriptions", json=big)
    assert r.status_code == 413 and "larger than" in r.json()["detail"]

    def chunks():  # no Content-Length: the limit holds on what actually arrives
        for _ in range(MAX_BODY // 1000 + 2):
            yield b"x" * 1000

    r = client.post("/api/subscriptions", content=chunks(), headers={"content-type": "text/plain"})
    assert r.status_code == 413


def test_a_server_never_builds_an_index_inside_a_request(tmp_path, monkeypatch):
    """Sparse mode answers 503 while its index is built in the background; dense and hybrid
    answer from what the dense index has while the missing papers are encoded."""
    import threading

    from sciseek.index.vectors import DenseIndex

    with Engine.open(tmp_path / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
    release = threading.Event()
    real_encode = DenseIndex._encode

    def slow_encode(self, papers):
        assert release.wait(60), "the test never released the encoder"
        return real_encode(self, papers)

    with Engine.open(tmp_path / "data", background=True) as engine:
        late = Paper("late-1", "Protein structure prediction with late arrivals", "Folding.")
        engine.store.upsert([late])  # in the store (another process indexed it), not encoded
        engine.lexical.sync()
        monkeypatch.setattr(DenseIndex, "_encode", slow_encode)
        client = TestClient(create_app(engine))
        r = client.get("/api/search", params={"q": "protein structure prediction"})
        assert r.status_code == 200
        ids = [h["id"] for h in r.json()["hits"]]
        assert "late-1" in ids and "2403.00006" in ids  # BM25 finds the paper not encoded yet
        assert engine.dense.generation != engine.store.generation  # still encoding
        r = client.get("/api/search", params={"q": "protein", "mode": "sparse"})
        assert r.status_code == 503 and "being built" in r.json()["detail"]
        assert client.get("/papers/late-1").status_code == 200  # no similar papers yet: fine
        release.set()
        assert engine.wait_for_indexes(120)
        assert engine.dense.generation == engine.store.generation
        r = client.get("/api/search", params={"q": "protein", "mode": "sparse"})
        assert r.status_code == 200 and r.json()["hits"]

"""Tag digests on the web: the form of a tag page and of an expression, turning one off from
the library page, the JSON API, and that no reader reaches another's digests."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.web.signing import SITE, sign_in

IR = ["2401.00001", "2403.00005"]
TAG_XSS = "<script>alert(1)<img src=x onerror=alert(2)>"


@pytest.fixture
def ada(app, smtp):
    browser = sign_in(app, smtp, "ada@example.org")
    for pid in IR:
        r = browser.post("/api/library/tags/ir", json={"paper_id": pid}, headers=SITE)
        assert r.status_code == 201
    return browser


@pytest.fixture
def bob(app, smtp):
    return sign_in(app, smtp, "bob@example.org")


def test_a_tag_page_turns_the_tag_into_a_digest_and_the_library_page_turns_it_off(ada):
    page = ada.get("/library/tag/ir").text
    assert "Mail me new papers like these" in page and 'action="/library/digests"' in page
    form = {"tag": "ir", "frequency": "daily", "back": "/library/tag/ir"}
    assert ada.post("/library/digests", data=form).status_code == 403  # not from this site
    assert ada.get("/api/library/digests").json() == []
    r = ada.post("/library/digests", data=form, headers=SITE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/library/tag/ir"
    page = ada.get("/library/tag/ir").text
    assert "mailed to you daily" in page and "Mail me new papers like these" not in page
    (made,) = ada.get("/api/library/digests").json()
    assert (made["source"], made["tag"], made["frequency"]) == ("tag", "ir", "daily")

    library = ada.get("/library").text
    assert (
        "Mailed to you" in library and f'action="/library/digests/{made["id"]}/delete"' in library
    )
    off = f"/library/digests/{made['id']}/delete"
    assert ada.post(off).status_code == 403
    r = ada.post(off, headers=SITE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/library"
    assert ada.get("/api/library/digests").json() == []
    assert "Mailed to you" not in ada.get("/library").text
    assert ada.post(off, headers=SITE).status_code == 404  # off already


def test_an_expression_becomes_a_digest_from_the_library_page(ada):
    ada.post("/api/library/tags/surveys", json={"paper_id": IR[0]}, headers=SITE)
    page = ada.get("/library", params={"expr": "ir AND NOT surveys"}).text
    assert 'name="expr" value="ir AND NOT surveys"' in page
    form = {"expr": "ir  AND NOT surveys", "frequency": "weekly"}
    r = ada.post("/library/digests", data=form, headers=SITE, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/library?expr=ir")
    (made,) = ada.get("/api/library/digests").json()
    assert (made["source"], made["expr"], made["frequency"]) == (
        "expr",
        "ir AND NOT surveys",
        "weekly",
    )
    page = ada.get("/library", params={"expr": "ir AND NOT surveys"}).text
    assert "mailed to you weekly" in page
    bad = ada.post("/library/digests", data={"expr": "ir AND ("}, headers=SITE)
    assert bad.status_code == 422 and "position" in bad.text


def test_the_api_creates_lists_and_deletes_only_the_readers_own(app, ada, bob):
    assert TestClient(app).get("/api/library/digests").status_code == 401
    body = {"tag": "IR", "frequency": "daily"}
    assert ada.post("/api/library/digests", json=body).status_code == 403
    r = ada.post("/api/library/digests", json=body, headers=SITE)
    assert r.status_code == 201 and r.json()["tag"] == "ir" and r.json()["url"] == "/library/tag/ir"
    made = r.json()["id"]
    again = ada.post(
        "/api/library/digests", json={"tag": "ir", "frequency": "weekly"}, headers=SITE
    )
    assert again.json()["id"] == made and again.json()["frequency"] == "weekly"

    assert bob.get("/api/library/digests").json() == []
    assert bob.post("/api/library/digests", json=body, headers=SITE).status_code == 404
    assert bob.delete(f"/api/library/digests/{made}", headers=SITE).status_code == 404
    assert bob.post(f"/library/digests/{made}/delete", headers=SITE).status_code == 404
    assert [d["id"] for d in ada.get("/api/library/digests").json()] == [made]

    for bad, words in [
        ({"tag": "ir", "expr": "ir"}, "not both"),
        ({}, "give a tag"),
        ({"tag": "ir", "frequency": "hourly"}, "frequency"),
        ({"expr": "ir OR"}, "position"),
        ({"tag": "nope"}, "no tag"),
    ]:
        r = ada.post("/api/library/digests", json=bad, headers=SITE)
        assert r.status_code in (404, 422) and words in r.text, (bad, r.text)
    assert ada.delete(f"/api/library/digests/{made}").status_code == 403
    assert ada.delete(f"/api/library/digests/{made}", headers=SITE).status_code == 204
    assert ada.get("/api/library/digests").json() == []


def test_tag_names_and_expressions_are_escaped_on_the_pages(ada):
    r = ada.post("/api/library/tags/" + "%3Cscript%3E", json={"paper_id": IR[0]}, headers=SITE)
    assert r.status_code == 201
    ada.post("/api/library/tags/x", json={"paper_id": IR[1]}, headers=SITE)
    ada.post(
        "/api/library/tags/" + TAG_XSS.replace("<", "%3C").replace(">", "%3E").replace(" ", "%20"),
        json={"paper_id": IR[1]},
        headers=SITE,
    )
    ada.post("/api/library/digests", json={"tag": TAG_XSS}, headers=SITE)
    ada.post("/api/library/digests", json={"expr": '"<script>" OR x'}, headers=SITE)
    page = ada.get("/library").text
    assert "<script>" not in page and "&lt;script&gt;alert(1)" in page
    assert "&#34;&lt;script&gt;&#34; OR x" in page or "&quot;&lt;script&gt;&quot; OR x" in page

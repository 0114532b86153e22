"""The library's pages and JSON API: saving, tags, notes, marks, seen, recommendations, and
that no reader reaches another's library."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from tests.web.signing import SITE, XSS, sign_in

P = ["2401.00001", "2401.00002", "2403.00005", "2402.00003"]


@pytest.fixture
def ada(app, smtp):
    return sign_in(app, smtp, "ada@example.org")


@pytest.fixture
def bob(app, smtp):
    return sign_in(app, smtp, "bob@example.org")


def save(browser, tag: str, paper_id: str, note: str | None = None):
    body = {"paper_id": paper_id} if note is None else {"paper_id": paper_id, "note": note}
    r = browser.post(f"/api/library/tags/{quote(tag, safe='')}", json=body, headers=SITE)
    assert r.status_code == 201, r.text
    return r.json()


def test_the_save_control_is_for_signed_in_readers(app, ada):
    anonymous = TestClient(app)
    for url in ("/papers/2401.00001", "/?q=dense+retrieval", "/new"):
        page = anonymous.get(url).text
        assert "sign in to save" in page and 'action="/library/save"' not in page, url
        page = ada.get(url).text
        assert 'action="/library/save"' in page and "sign in to save" not in page, url
    results = ada.get("/?q=dense+retrieval").text
    assert results.count('action="/library/save"') == results.count('class="paper"')

    r = ada.post(
        "/library/save",
        data={"paper_id": P[0], "tag": "Dense IR", "back": "/?q=dense+retrieval"},
        headers=SITE,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/?q=dense+retrieval"
    r = ada.post(
        "/library/save",
        data={"paper_id": P[1], "tag": "dense ir", "back": "https://evil.example/"},
        headers=SITE,
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/library/tag/dense%20ir"
    for elsewhere in ("//evil.example/", "/\t/evil.example/", "/\\evil.example", "javascript:x"):
        r = ada.post(
            "/library/save",
            data={"paper_id": P[1], "tag": "dense ir", "back": elsewhere},
            headers=SITE,
            follow_redirects=False,
        )
        assert r.headers["location"] == "/library/tag/dense%20ir", elsewhere
    assert ada.post("/library/save", data={"paper_id": P[2], "tag": "x"}).status_code == 403
    tags = ada.get("/api/library/tags").json()
    assert [(t["name"], t["count"]) for t in tags] == [("Dense IR", 2)]
    assert '<option value="Dense IR">' in ada.get("/new").text  # the tag is offered again
    paper = ada.get(f"/papers/{P[0]}").text
    assert 'class="saved-in">in <a href="/library/tag/Dense%20IR">Dense IR</a>' in paper
    unsaved = ada.get(f"/papers/{P[3]}").text.partition('<section id="similar">')[0]
    assert 'action="/library/save"' in unsaved and 'class="saved-in"' not in unsaved
    bad = ada.post("/library/save", data={"paper_id": "nope", "tag": "x"}, headers=SITE)
    assert bad.status_code == 404 and "no paper with id" in bad.text


def test_tag_pages_notes_rename_remove_delete(ada):
    save(ada, "ir", P[0], note="read section 3")
    save(ada, "ir", P[1])
    save(ada, "todo", P[1])
    lib = ada.get("/library")
    assert (
        lib.status_code == 200 and "/library/tag/ir" in lib.text and "/library/tag/todo" in lib.text
    )
    page = ada.get("/library/tag/IR")
    assert page.status_code == 200 and "read section 3" in page.text
    assert P[0] in page.text and P[1] in page.text and P[2] not in page.text

    r = ada.post(
        "/library/note",
        data={"paper_id": P[1], "note": "skim", "back": "/library/tag/ir"},
        headers=SITE,
    )
    assert r.status_code == 200 and "skim" in r.text
    r = ada.post("/library/tag/ir/remove", data={"paper_id": P[0]}, headers=SITE)
    assert r.status_code == 200 and P[0] not in r.text
    r = ada.post("/library/tag/ir/rename", data={"new_name": "retrieval"}, headers=SITE)
    assert r.status_code == 200 and r.url.path == "/library/tag/retrieval"
    clash = ada.post("/library/tag/retrieval/rename", data={"new_name": "TODO"}, headers=SITE)
    assert clash.status_code == 409 and "already have a tag" in clash.text
    r = ada.post("/library/tag/todo/delete", headers=SITE)
    assert r.status_code == 200 and r.url.path == "/library"
    assert [t["name"] for t in ada.get("/api/library/tags").json()] == ["retrieval"]
    assert ada.get("/library/tag/todo").status_code == 404

    # The same through the JSON API.
    tag = ada.get("/api/library/tags/retrieval").json()
    assert tag["count"] == 1 and [(p["id"], p["note"]) for p in tag["papers"]] == [(P[1], "skim")]
    r = ada.put(f"/api/library/notes/{P[1]}", json={"note": "x" * 5001}, headers=SITE)
    assert r.status_code == 422 and "5,000" in r.json()["detail"]
    r = ada.patch("/api/library/tags/retrieval", json={"name": "IR"}, headers=SITE)
    assert r.status_code == 200 and r.json()["name"] == "IR"
    assert ada.delete(f"/api/library/tags/ir/papers/{P[1]}", headers=SITE).status_code == 204
    assert ada.delete(f"/api/library/tags/ir/papers/{P[1]}", headers=SITE).status_code == 404
    assert ada.delete("/api/library/tags/ir", headers=SITE).status_code == 204
    assert ada.get("/api/library/tags").json() == []
    r = ada.post("/api/library/tags/a%2Fb", json={"paper_id": P[0]}, headers=SITE)
    assert r.status_code == 404  # a name with '/' is no tag URL


def test_tag_expressions_on_the_page_and_in_the_api(ada):
    save(ada, "ir", P[0])
    save(ada, "ir", P[1])
    save(ada, "surveys", P[1])
    save(ada, "bio", P[3])
    r = ada.get("/api/library/papers", params={"expr": "ir AND NOT surveys"})
    assert [p["id"] for p in r.json()["papers"]] == [P[0]]
    r = ada.get("/api/library/papers", params={"expr": "(ir OR bio) AND NOT ir"})
    assert [p["id"] for p in r.json()["papers"]] == [P[3]]
    assert [p["id"] for p in ada.get("/api/library/papers").json()["papers"]] == [P[0], P[1], P[3]]
    bad = ada.get("/api/library/papers", params={"expr": "ir AND (bio"})
    assert bad.status_code == 422 and "at position 12" in bad.json()["detail"]
    page = ada.get("/library", params={"expr": "ir AND NOT surveys"})
    assert page.status_code == 200 and f"/papers/{P[0]}" in page.text
    assert f"/papers/{P[1]}" not in page.text
    page = ada.get("/library", params={"expr": "ir AND"})
    assert page.status_code == 422 and "at position 7" in page.text


def test_recommendations_say_why_and_drop_seen_and_not_relevant_papers(engine, ada):
    save(ada, "ir", P[0])
    near = engine.similar(P[0], 1)[0].paper.id
    r = ada.get("/api/library/recommended", params={"tag": "IR", "k": 5})
    found = r.json()["recommendations"]
    assert r.json()["source"] == "tag" and near in [f["id"] for f in found]
    assert all(f["because"] == P[0] and f["id"] != P[0] for f in found)
    assert ada.get("/api/library/seen").json() == []  # the API marks nothing seen

    page = ada.get("/library/recommended", params={"tag": "ir"})
    title = engine.get(P[0]).title
    assert page.status_code == 200 and f"/papers/{near}" in page.text
    assert f'why: near <a href="/papers/{P[0]}">{title}</a>' in page.text
    assert near in ada.get("/api/library/seen").json()  # shown, so seen
    assert f'/papers/{near}"' not in ada.get("/library/recommended?tag=ir").text
    again = ada.get("/library/recommended", params={"tag": "ir", "show_seen": 1})
    assert f'class="title" href="/papers/{near}"' in again.text
    assert '<span class="seen">seen</span>' in again.text
    assert '<span class="seen">' not in page.text

    r = ada.post(
        "/library/not-relevant",
        data={"paper_id": near, "tag": "ir", "back": "/library/recommended?tag=ir&show_seen=1"},
        headers=SITE,
    )
    assert r.status_code == 200 and r.url.path == "/library/recommended"
    assert f'class="title" href="/papers/{near}"' not in r.text
    mark = ada.get("/api/library/marks").json()[0]
    assert (mark["paper_id"], mark["tag"]) == (near, "ir")
    whole = ada.get("/api/library/recommended", params={"show_seen": 1}).json()
    assert whole["source"] == "library" and near in [p["id"] for p in whole["recommendations"]]
    assert (
        ada.delete(f"/api/library/marks/{near}", params={"tag": "ir"}, headers=SITE).status_code
        == 204
    )
    assert ada.delete("/api/library/seen", headers=SITE).json()["removed"] >= 1
    fresh = ada.get("/api/library/recommended?tag=ir").json()["recommendations"]
    assert near in [f["id"] for f in fresh]
    empty = ada.get("/library/recommended", params={"expr": "NOT ir"})
    assert empty.status_code == 200 and "Save papers first" in empty.text


TAG_XSS = "<script>alert(1)<img src=x onerror=alert(2)>"  # a tag name has no '/'


def test_user_strings_are_escaped_in_every_page(app, ada):
    save(ada, TAG_XSS, P[0], note=f"note {XSS}")
    tag = quote(TAG_XSS, safe="")
    urls = ["/library", f"/library/tag/{tag}", f"/papers/{P[0]}", "/new", "/?q=distilling"]
    urls += [f"/library/recommended?tag={tag}", f"/library?expr={quote(chr(34) + TAG_XSS)}"]
    for url in urls:
        page = ada.get(url)
        assert page.status_code in (200, 422), url
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, url
    escaped = "&lt;script&gt;alert(1)&lt;img src=x onerror=alert(2)&gt;"
    assert escaped in ada.get("/library").text
    assert escaped in ada.get("/new").text  # the Save control's list of tags
    tag_page = ada.get(f"/library/tag/{tag}").text
    assert escaped in tag_page and "note &lt;script&gt;alert(1)&lt;/script&gt;" in tag_page
    assert ada.get("/api/library/tags").json()[0]["name"] == TAG_XSS  # JSON keeps the text


def every_route(app) -> set[tuple[str, str]]:
    out = set()
    for route in app.routes:
        path = getattr(route, "path", "")
        if path.startswith(("/library", "/api/library", "/account", "/api/account")):
            out |= {(m, path) for m in route.methods - {"HEAD"}}
    return out


def test_no_reader_reaches_another_readers_library(app, ada, bob):
    save(ada, "secret", P[0], note="ada's private note")
    ada.post("/api/library/marks", json={"paper_id": P[2], "tag": "secret"}, headers=SITE)
    ada.post("/api/library/seen", json={"paper_ids": [P[3]]}, headers=SITE)
    digest = ada.post("/api/library/digests", json={"tag": "secret"}, headers=SITE).json()
    d = f"/api/library/digests/{digest['id']}"
    before = ada.get("/api/library/tags/secret").json()
    t = "/library/tag/secret"
    tried = [  # in order: bob's own tag of the same name comes last
        ("GET", "/library", None, {"expr": "secret"}, (422,)),
        ("GET", t, None, None, (404,)),
        ("GET", f"{t}/export", None, {"format": "bibtex"}, (404,)),
        ("GET", "/library/recommended", None, {"tag": "secret"}, (404,)),
        ("POST", f"{t}/remove", {"paper_id": P[0]}, None, (404,)),
        ("POST", f"{t}/rename", {"new_name": "mine"}, None, (404,)),
        ("POST", f"{t}/delete", None, None, (404,)),
        ("POST", "/library/note", {"paper_id": P[0], "note": "bob"}, None, (404,)),
        ("POST", "/library/not-relevant", {"paper_id": P[1], "tag": "secret"}, None, (404,)),
        ("POST", "/library/seen", {"paper_id": P[3], "action": "unseen"}, None, (200,)),
        ("GET", "/api/library/tags/secret", None, None, (404,)),
        ("PATCH", "/api/library/tags/secret", {"name": "mine"}, None, (404,)),
        ("DELETE", f"/api/library/tags/secret/papers/{P[0]}", None, None, (404,)),
        ("PUT", f"/api/library/notes/{P[0]}", {"note": "bob"}, None, (404,)),
        ("GET", "/api/library/papers", None, {"expr": "secret"}, (422,)),
        ("DELETE", f"/api/library/marks/{P[2]}", None, {"tag": "secret"}, (404,)),
        ("POST", "/api/library/marks", {"paper_id": P[2], "tag": "secret"}, None, (404,)),
        ("GET", "/api/library/recommended", None, {"tag": "secret"}, (404,)),
        ("POST", "/api/library/seen", {"paper_ids": []}, None, (200,)),
        ("DELETE", "/api/library/seen", None, None, (200,)),
        ("GET", "/api/library/tags", None, None, (200,)),
        ("GET", "/api/library/marks", None, None, (200,)),
        ("GET", "/api/library/seen", None, None, (200,)),
        ("GET", "/library/recommended", None, None, (200,)),
        ("GET", "/api/account", None, None, (200,)),
        ("GET", "/account", None, None, (200,)),
        ("POST", "/account/delete", None, None, (200,)),  # asks for confirmation only
        ("POST", "/library/digests", {"tag": "secret"}, None, (404,)),
        ("POST", f"/library/digests/{digest['id']}/delete", None, None, (404,)),
        ("POST", "/api/library/digests", {"tag": "secret"}, None, (404,)),
        ("DELETE", d, None, None, (404,)),
        ("GET", "/api/library/digests", None, None, (200,)),
        ("POST", "/library/save", {"paper_id": P[1], "tag": "secret"}, None, (200,)),
        ("POST", "/api/library/tags/secret", {"paper_id": P[1]}, None, (201,)),
        ("DELETE", "/api/library/tags/secret", None, None, (204,)),  # bob's own tag of that name
    ]
    anonymous = TestClient(app)
    for method, url, body, params, statuses in tried:
        api = url.startswith("/api/")
        kw = {"json": body} if api else {"data": body}
        r = bob.request(method, url, params=params, headers=SITE, **kw)
        assert r.status_code in statuses, (method, url, r.status_code, r.text[:300])
        for secret in ("ada's private note", "ada@example.org"):
            assert secret not in r.text, (method, url)
        r = anonymous.request(method, url, params=params, headers=SITE, **kw)
        assert r.status_code == 401, (method, url, r.status_code)
        assert "sign in" in r.text.lower()
    covered = {(m, u) for m, u, *_ in tried}
    routes = every_route(app)
    missing = {r for r in routes if not any(r[0] == m and _matches(r[1], u) for m, u in covered)}
    assert not missing, missing
    assert ada.get("/api/library/tags/secret").json() == before
    assert ada.get("/api/library/digests").json() == [digest]
    assert ada.get("/api/library/marks").json()[0]["paper_id"] == P[2]
    assert ada.get("/api/library/seen").json() == [P[3]]
    assert bob.get("/api/library/papers").json()["papers"] == []


def _matches(template: str, url: str) -> bool:
    parts, given = template.split("/"), url.split("/")
    if template.endswith(":path}"):
        given = given[: len(parts) - 1] + ["/".join(given[len(parts) - 1 :])]
    return len(parts) == len(given) and all(
        p == g or (p.startswith("{") and g) for p, g in zip(parts, given, strict=True)
    )


def test_recommendations_leave_out_excluded_categories(engine, ada):
    save(ada, "ir", P[0])
    params = {"tag": "ir", "k": 10, "show_seen": 1}
    every = ada.get("/api/library/recommended", params=params).json()["recommendations"]
    dropped = every[0]["categories"][0]
    assert any(dropped not in f["categories"] for f in every)  # the exclusion leaves some
    kept = ada.get("/api/library/recommended", params={**params, "exclude": [dropped]}).json()
    ids = [f["id"] for f in kept["recommendations"]]
    assert ids and all(dropped not in f["categories"] for f in kept["recommendations"])
    page = ada.get("/library/recommended", params={**params, "exclude": f" {dropped}, x.Y"})
    assert page.status_code == 200 and f'name="exclude" value=" {dropped}, x.Y"' in page.text
    assert all(f'/papers/{f["id"]}"' not in page.text for f in every if dropped in f["categories"])
    assert f'/papers/{ids[0]}"' in page.text

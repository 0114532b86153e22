"""End to end in Debian's headless Chromium against a server started on 127.0.0.1."""

import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from sciseek import Engine, read_papers
from tests.helpers import FIXTURES

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    data = tmp_path_factory.mktemp("browser") / "data"
    with Engine.open(data) as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "sciseek", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(base + "/api/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            raise RuntimeError("server did not start: " + (proc.stdout.read() or ""))
        time.sleep(0.2)
    yield base
    proc.terminate()
    proc.wait(timeout=20)


@pytest.fixture(scope="module")
def browser():
    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    assert Path(chromium).exists(), "install Debian's chromium (scripts/install.sh --test)"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield b
        b.close()


@pytest.mark.slow
def test_search_open_similar_upvote_trending(server, browser, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    page.goto(server + "/")
    page.fill("input[name=q]", "predicting protein structure with transformers")
    page.press("input[name=q]", "Enter")
    first = page.locator(".results article").first
    expect(first.locator("a.title")).to_have_text("Protein Structure Prediction with Attention")
    expect(first.locator("mark").first).to_be_visible()
    page.screenshot(path=str(ARTIFACTS / "search-page.png"), full_page=True)

    first.locator("a.title").click()
    expect(page).to_have_url(server + "/papers/2403.00006")
    expect(page.locator("h1")).to_have_text("Protein Structure Prediction with Attention")
    similar = page.locator("#similar article a.title").first
    expect(similar).to_be_visible()
    target = similar.get_attribute("href")
    similar.click()
    expect(page).to_have_url(server + target)
    assert target != "/papers/2403.00006"

    button = page.locator("form.upvote button")
    expect(button).to_contain_text("upvote")
    button.click()
    expect(button).to_contain_text("upvoted")
    expect(page.locator(".vote-count")).to_have_text("1")
    page.reload()
    expect(page.locator("form.upvote button")).to_contain_text("upvoted")

    page.goto(server + "/trending")
    expect(page.locator(".results article a.title").first).to_have_attribute("href", target)
    expect(page.locator(".results article .votes").first).to_have_text("▲ 1")
    page.screenshot(path=str(ARTIFACTS / "trending-page.png"), full_page=True)
    assert (ARTIFACTS / "search-page.png").stat().st_size > 10_000


def test_page_works_without_network_assets(server, browser):
    page = browser.new_page()
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    page.goto(server + "/?q=graph+neural+networks")
    expect(page.locator(".results article").first).to_be_visible()
    assert requests and all(u.startswith(server) for u in requests)


@pytest.mark.slow
def test_a_reader_exports_a_ticked_selection_and_a_paper(server, browser):
    ARTIFACTS.mkdir(exist_ok=True)
    page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.goto(server + "/?q=neural+retrieval")
    rows = page.locator(".results .pick-row")
    wanted = [rows.nth(i).locator("article").get_attribute("data-id") for i in (0, 2)]
    for i in (0, 2):
        rows.nth(i).locator("input.pick").check()
    page.screenshot(path=str(ARTIFACTS / "search-export.png"), full_page=True)
    with page.expect_download() as download:
        page.locator("form.export button[value=ris]").click()
    text = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename == "sciseek-2-papers.ris"
    assert [line[6:] for line in text.splitlines() if line.startswith("AN  - ")] == [
        f"arXiv:{pid}" for pid in wanted
    ]

    page.goto(server + "/papers/2403.00006")
    with page.expect_download() as download:
        page.locator("a.export-bibtex").click()
    assert download.value.suggested_filename == "franklin2024protein.bib"
    assert "eprint = {2403.00006}" in Path(download.value.path()).read_text(encoding="utf-8")


def _shown_ids(page) -> list[str]:
    return page.locator(".results article").evaluate_all("els => els.map(e => e.dataset.id)")


def _api_ids(server: str, path: str) -> list[str]:
    r = httpx.get(server + path, params={"k": 25}, timeout=10)
    assert r.status_code == 200
    return [p["id"] for p in r.json()["papers"]]


@pytest.mark.slow
def test_a_reader_walks_day_category_author_paper_and_exports(server, browser):
    """home -> latest day -> a category -> an author -> a paper -> its BibTeX, each page
    listing what its JSON API returns."""
    page = browser.new_page(viewport={"width": 1100, "height": 900}, accept_downloads=True)
    page.goto(server + "/")
    page.locator("header nav a", has_text="Browse").click()
    latest = httpx.get(server + "/api/day", timeout=10).json()
    assert latest["papers"]
    expect(page.locator("h1")).to_contain_text(latest["day"][:4])
    assert _shown_ids(page) == [p["id"] for p in latest["papers"]]
    previous = page.locator("a.prev-day")
    expect(previous).to_have_attribute("href", f"/day/{latest['prev']}")
    previous.click()
    expect(page).to_have_url(f"{server}/day/{latest['prev']}")
    assert _shown_ids(page) == _api_ids(server, f"/api/day/{latest['prev']}")

    category = page.locator(".results article a.cat").first
    name = category.inner_text()
    category.click()
    expect(page).to_have_url(f"{server}/category/{name}")
    assert _shown_ids(page) == _api_ids(server, f"/api/category/{name}")
    page.screenshot(path=str(ARTIFACTS / "category-page.png"), full_page=True)

    author = page.locator(".results article a.author").first
    who = author.inner_text()
    author.click()
    expect(page.locator("h1")).to_contain_text(who)
    api = httpx.get(f"{server}/api/author/{who}", params={"k": 25}, timeout=10).json()
    assert _shown_ids(page) == [p["id"] for p in api["papers"]]
    shown_coauthors = page.locator(".coauthors a.author").all_inner_texts()
    assert shown_coauthors
    assert shown_coauthors == [c["name"] for c in api["coauthors"]][: len(shown_coauthors)]

    first = page.locator(".results article").first
    paper_id = first.get_attribute("data-id")
    first.locator("a.title").click()
    expect(page).to_have_url(f"{server}/papers/{paper_id}")
    expect(page.locator("h1")).to_have_text(api["papers"][0]["title"])
    with page.expect_download() as download:
        page.locator("a.export-bibtex").click()
    bib = Path(download.value.path()).read_text(encoding="utf-8")
    assert f"eprint = {{{paper_id}}}" in bib

"""A reader's library in Debian's headless Chromium, end to end: sign in by the emailed link,
save, recommendations, a tag digest mailed by ``sciseek digest send``, account deletion.

The server and the digest run are real ``sciseek`` subprocesses that mail through an aiosmtpd
server on 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect, sync_playwright

from sciseek import Engine, read_papers
from tests.digests.test_digest import MATCHING, UNRELATED, Server, html_of, text_of
from tests.helpers import FIXTURES
from tests.web.test_browser import ARTIFACTS, CHROMIUM_FLAGS, _free_port

ADA = "ada@example.org"
IR = ["2401.00001", "2403.00005", "2405.00009"]  # saved under "ir"
OTHER = ["2402.00003", "2403.00006"]  # saved under "molecules"
# Added "later" (half a day from now): the papers a digest sent a day from now finds new.
NEW = [p.id for p in [*MATCHING, *UNRELATED]] + ["2401.00002", "2404.00007", "2406.00012"]


def later(days: float) -> str:
    return (dt.datetime.now(dt.UTC) + dt.timedelta(days=days)).isoformat(timespec="seconds")


@pytest.fixture(scope="module")
def smtp():
    server = Server()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def site(tmp_path_factory, smtp):
    data = tmp_path_factory.mktemp("browser-library") / "data"
    with Engine.open(data) as engine:
        engine.add([*read_papers(FIXTURES / "papers.jsonl"), *MATCHING, *UNRELATED])
        path = engine.store.path
    with sqlite3.connect(path) as db:
        db.execute("UPDATE papers SET added='2020-01-01T00:00:00+00:00'")
        marks = ",".join("?" * len(NEW))
        db.execute(f"UPDATE papers SET added=? WHERE id IN ({marks})", (later(0.5), *NEW))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {
        **os.environ,
        "SCISEEK_SMTP_HOST": "127.0.0.1",
        "SCISEEK_SMTP_PORT": str(smtp.port),
        "SCISEEK_SMTP_TLS": "none",
        "SCISEEK_SMTP_FROM": "sciseek <digest@example.org>",
        "SCISEEK_BASE_URL": base,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "sciseek", "serve", "--port", str(port), "--data-dir", str(data)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
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
    yield {"base": base, "data": data, "db": path, "env": env}
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


def sign_in(page, base: str, smtp: Server) -> None:
    before = len(smtp.inbox.to(ADA))
    page.goto(base + "/signin")
    page.fill("form.signin input[name=email]", ADA)
    page.locator("form.signin button").click()
    expect(page.locator("p.notice")).to_contain_text(f"on its way to {ADA}")
    deadline = time.monotonic() + 10
    while len(smtp.inbox.to(ADA)) == before and time.monotonic() < deadline:
        time.sleep(0.1)
    text = text_of(smtp.inbox.to(ADA)[-1])
    link = re.search(rf"{re.escape(base)}/signin/confirm\?token=\S+", text)
    assert link, text
    page.goto(link.group(0))
    page.locator("form.signin-confirm button").click()
    expect(page).to_have_url(base + "/library")


def save(page, base: str, paper_id: str, tag: str) -> None:
    page.goto(f"{base}/papers/{paper_id}")
    form = page.locator("form.save").first
    form.locator("input[name=tag]").fill(tag)
    form.locator("button").click()
    expect(page).to_have_url(f"{base}/papers/{paper_id}")  # back where it was saved
    expect(page.locator("form.save .saved-in").first).to_contain_text(tag)


@pytest.mark.slow
def test_a_reader_turns_a_tag_into_a_digest_and_then_deletes_the_account(site, smtp, browser):
    base = site["base"]
    page = browser.new_page(viewport={"width": 1100, "height": 900})
    sign_in(page, base, smtp)
    for pid in IR:
        save(page, base, pid, "ir")
    for pid in OTHER:
        save(page, base, pid, "molecules")
    page.goto(base + "/library")
    expect(page.locator("ul.tags a.tag")).to_have_text(["ir", "molecules"])

    page.goto(base + "/library/tag/ir")
    page.locator("a.recommended").click()
    expect(page).to_have_url(re.compile(r"/library/recommended\?tag=ir"))
    first = page.locator(".results article").first
    rejected = first.get_attribute("data-id")
    assert rejected and rejected not in IR
    first.locator("form.not-relevant button").click()
    expect(page.locator(f'.results article[data-id="{rejected}"]')).to_have_count(0)
    page.goto(base + "/library/recommended?tag=ir&show_seen=1")
    expect(page.locator(".results article").first).to_be_visible()
    expect(page.locator(f'.results article[data-id="{rejected}"]')).to_have_count(0)

    page.goto(base + "/library/tag/ir")
    page.select_option("form.tag-digest select[name=frequency]", "daily")
    page.locator("form.tag-digest button", has_text="Mail me new papers like these").click()
    expect(page.locator(".tag-digest-on")).to_contain_text("mailed to you daily")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "library-tag-digest.png"), full_page=True)
    page.goto(base + "/library")
    expect(page.locator("section.tag-digests li")).to_have_count(1)

    run = subprocess.run(
        [sys.executable, "-m", "sciseek", "digest", "send", "--now", later(1)]
        + ["--data-dir", str(site["data"])],
        env=site["env"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "1 tag digests due: sent 1" in run.stdout, run.stdout
    (mail,) = [m for m in smtp.inbox.to(ADA) if m["List-Unsubscribe"]]
    mailed = set(re.findall(rf"{re.escape(base)}/papers/(\S+)", text_of(mail)))
    assert mailed and mailed <= set(NEW) - {rejected}, mailed
    assert 'your tag "ir"' in text_of(mail) and "/unsubscribe/tag?token=" in html_of(mail)

    page.goto(base + "/account")
    page.locator("form.signout button").click()
    expect(page).to_have_url(base + "/")
    page.goto(base + "/library")
    expect(page.locator("form.signin")).to_be_visible()

    sign_in(page, base, smtp)
    page.goto(base + "/account")
    page.locator("form.delete-account button").click()
    page.locator("form.delete-account button", has_text="Yes, delete everything").click()
    expect(page.locator("h1")).to_have_text("Account deleted")

    with sqlite3.connect(site["db"]) as db:
        assert db.execute("SELECT COUNT(*) FROM readers").fetchone()[0] == 0
        for table in (
            "reader_sessions",
            "library_tags",
            "library_saved",
            "library_marks",
            "library_seen",
            "library_digests",
            "library_digest_sent",
        ):
            assert db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0] == 0, table

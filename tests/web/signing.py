"""Helpers of the web tests that sign in: the mailed link, a signed-in browser."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.digests.test_digest import BASE, Server, text_of

SITE = {"origin": BASE}
XSS = "<script>alert(1)</script>"


def signin_link(server: Server, address: str) -> str:
    """The sign-in link of the newest mail to ``address``."""
    msg = server.inbox.to(address)[-1]
    found = re.search(rf"{BASE}/signin/confirm\?token=[A-Za-z0-9_.%-]+", text_of(msg))
    assert found, text_of(msg)
    return found.group(0)


def sign_in(app, server: Server, address: str, base_url: str = BASE) -> TestClient:
    """A browser signed in as ``address`` by following the mailed link."""
    browser = TestClient(app, base_url=base_url)
    origin = {"origin": base_url}
    r = browser.post("/signin", data={"email": address}, headers=origin)
    assert r.status_code == 202, r.text
    token = signin_link(server, address.lower()).partition("token=")[2]
    r = browser.post("/signin/confirm", data={"token": token}, headers=origin)
    assert r.status_code == 200 and r.url.path == "/library", r.text
    return browser

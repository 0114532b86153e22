"""Fixtures of the web tests that sign in: a real SMTP server on 127.0.0.1 and the app."""

from __future__ import annotations

import pytest

from sciseek.web.app import create_app
from tests.digests.test_digest import BASE, Server


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that the app mails through."""
    server = Server()
    server.start()
    monkeypatch.setenv("SCISEEK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCISEEK_SMTP_PORT", str(server.port))
    monkeypatch.setenv("SCISEEK_SMTP_TLS", "none")
    monkeypatch.setenv("SCISEEK_SMTP_FROM", "sciseek <signin@example.org>")
    monkeypatch.setenv("SCISEEK_BASE_URL", BASE)
    yield server
    server.stop()


@pytest.fixture
def app(engine):
    """The web app over the fixture papers."""
    return create_app(engine)

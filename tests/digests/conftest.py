"""Fixtures of the digest tests: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.digests.test_digest import BASE, Server


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that confirmations and digests go through."""
    server = Server()
    server.start()
    monkeypatch.setenv("SCISEEK_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("SCISEEK_SMTP_PORT", str(server.port))
    monkeypatch.setenv("SCISEEK_SMTP_TLS", "none")
    monkeypatch.setenv("SCISEEK_SMTP_FROM", "sciseek <digest@example.org>")
    monkeypatch.setenv("SCISEEK_BASE_URL", BASE)
    yield server
    server.stop()

"""Fixtures of the web tests that sign in: a real SMTP server on 127.0.0.1 and the app."""

from __future__ import annotations

import pytest

from sciseek.web.app import create_app
from tests.digests.test_digest import serving_smtp


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that the app mails through."""
    with serving_smtp(monkeypatch, "sciseek <signin@example.org>") as server:
        yield server


@pytest.fixture
def app(engine):
    """The web app over the fixture papers."""
    return create_app(engine)

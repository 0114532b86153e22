"""Fixtures of the digest tests: a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import pytest

from tests.digests.test_digest import serving_smtp


@pytest.fixture
def smtp(monkeypatch):
    """A real SMTP server on 127.0.0.1 that confirmations and digests go through."""
    with serving_smtp(monkeypatch) as server:
        yield server

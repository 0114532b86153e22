"""Property-based fuzzing of the library's JSON API with a signed-in reader: no input may
cause a 5xx, and none reaches another reader's rows."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import openapi

from sciseek import Engine, read_papers
from sciseek.digests.tokens import secret_key
from sciseek.library.accounts import Accounts
from sciseek.library.shelf import Library
from sciseek.web.accounts import SESSION_COOKIE
from sciseek.web.app import create_app
from tests.helpers import FIXTURES

EXAMPLES = 30  # per operation


def session_cookie(engine: Engine, email: str) -> tuple[int, str]:
    """A reader and their signed session cookie, as following a sign-in link makes them."""
    with Accounts.open(engine.data_dir) as accounts:
        _, nonce, _ = accounts.request_signin(email)
        reader, token = accounts.redeem({"e": email, "n": nonce})
    mac = hmac.new(secret_key(engine.data_dir), f"session:{token}".encode(), hashlib.sha256)
    return reader.id, f"{token}.{mac.hexdigest()[:32]}"


@pytest.mark.slow
def test_no_generated_library_request_causes_a_server_error(tmp_path):
    with Engine.open(tmp_path / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        other, _ = session_cookie(engine, "other@example.org")
        with Library.open(engine.data_dir) as library:
            library.save(other, "ir", "2401.00001", note="other's note")
        _, cookie = session_cookie(engine, "fuzz@example.org")
        schema = openapi.from_asgi("/openapi.json", create_app(engine))
        operations = [
            op
            for op in (result.ok() for result in schema.get_all_operations())
            if op.path.startswith(("/api/library", "/api/account"))
        ]
        assert len(operations) >= 14
        seen = []

        def fuzz(operation):
            @given(case=operation.as_strategy())
            @settings(
                max_examples=EXAMPLES,
                deadline=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
                database=None,
            )
            def check(case):
                response = case.call(
                    headers={"origin": "http://testserver"}, cookies={SESSION_COOKIE: cookie}
                )
                seen.append(response.status_code)
                assert response.status_code < 500, (
                    operation.label,
                    case.formatted_path,
                    case.query,
                    case.body,
                    response.text[:300],
                )
                assert "other's note" not in response.text

            check()

        for operation in operations:
            fuzz(operation)
        assert len(seen) >= len(operations) * 5
        # the session and the origin were good: calls got past the checks to the library
        assert any(s < 300 for s in seen) and 401 not in seen and 403 not in seen
        with Library.open(engine.data_dir) as library:
            assert library.tag_papers(other, "ir") == ["2401.00001"]
            assert library.note(other, "2401.00001") == "other's note"

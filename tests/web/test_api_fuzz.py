"""Property-based fuzzing of the OpenAPI schema with schemathesis: no input may cause a 5xx
(except the 503 that says a service, here email, is not configured on this server)."""

import pytest
from hypothesis import HealthCheck, given, settings
from schemathesis import openapi

from sciseek import Engine, read_papers
from sciseek.web.app import create_app
from tests.helpers import FIXTURES

EXAMPLES = 30  # per operation


@pytest.mark.slow
def test_no_generated_request_causes_a_server_error(tmp_path):
    with Engine.open(tmp_path / "data") as engine:
        engine.add(read_papers(FIXTURES / "papers.jsonl"))
        schema = openapi.from_asgi("/openapi.json", create_app(engine))
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 8
        seen = []
        writes: list[int] = []  # statuses of state-changing requests

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
                # the same-site check compares Origin with Host: send this site's own origin,
                # or every state-changing request would stop at a 403 before its route
                response = case.call(headers={"origin": "http://testserver"})
                seen.append(response.status_code)
                if operation.method.upper() in ("POST", "PUT", "PATCH", "DELETE"):
                    writes.append(response.status_code)
                unconfigured = response.status_code == 503 and "not configured" in response.text
                assert response.status_code < 500 or unconfigured, (
                    operation.label,
                    case.formatted_path,
                    case.query,
                    response.text[:300],
                )

            check()

        for operation in operations:
            fuzz(operation)
        assert len(seen) >= len(operations) * 5
        assert writes and any(code != 403 for code in writes), (
            "writes never passed the origin check"
        )

"""Schemathesis against the app's own OpenAPI schema, on the real server process.

Every operation gets generated requests, valid and not; no answer may be a 5xx
and every answer must match the schema (status code, content type, body).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import positive_data_acceptance
from schemathesis.specs.openapi.schemas import OpenApiSchema

from tests.credentials import ADMIN
from tests.e2e.server import ServerProcess

FUZZ_EXAMPLES = 40
# The API refuses some schema-valid text on purpose (control characters, lone
# surrogates, text with nothing visible): JSON Schema cannot state those rules.
EXCLUDED_CHECKS = [positive_data_acceptance]


@pytest.fixture(scope="module")
def running_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("fuzz")
    server = ServerProcess(
        workdir, {"API_KEYS": "fuzz-key", "RATE_LIMIT_PER_MINUTE": "100000"}
    )
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api_schema(running_server: ServerProcess) -> OpenApiSchema:
    return schemathesis.openapi.from_url(running_server.url + "/schema/openapi.json")


def test_every_answer_matches_the_schema(api_schema: OpenApiSchema) -> None:
    operations = [result.ok() for result in api_schema.get_all_operations()]
    failures = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=FUZZ_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        def fuzz(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=ADMIN, excluded_checks=EXCLUDED_CHECKS)

        try:
            fuzz()
        except Exception as exc:  # noqa: BLE001 - collected, then reported together
            failures.append(f"{operation.label}: {exc}")

    assert len(operations) >= 10
    assert not failures, "\n\n".join(failures)

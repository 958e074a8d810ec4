"""The live worker against its own OpenAPI document (``/openapi.yaml``), with schemathesis:
requests generated from the document, valid ones and broken ones, never get a 5xx, and every
answer is one the document describes, in the shape it gives."""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import APIOperation, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

EXAMPLES_PER_OPERATION = 50
KEY = {"statsig-api-key": "secret-dev-statsig-stream"}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
POSTS = ["POST /v1/log_event", "POST /v1/rgstr", "POST /v1/webhooks/event_webhook"]


def exercise(operation: APIOperation, mode: GenerationMode, base_url: str) -> Counter[int]:
    """Up to EXAMPLES_PER_OPERATION generated requests of one kind; the statuses they got.
    A failed check fails the test with the (shrunk) request that broke it."""
    statuses: Counter[int] = Counter()

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,  # a request waits for the broker: timings are not the point
        derandomize=True,
        database=None,
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def call(case: schemathesis.Case) -> None:
        response = case.call_and_validate(base_url=base_url, headers=KEY, checks=CHECKS, timeout=30)
        statuses[response.status_code] += 1

    call()
    return statuses


def test_worker_answers_as_its_openapi_document_says(start_worker) -> None:
    worker = start_worker()
    schema = schemathesis.openapi.from_url(worker.web_url + "/openapi.yaml", timeout=30)
    # (schemathesis leaves out the operation that serves the document it was loaded from)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert sorted(operation.label for operation in operations) == sorted(POSTS)
    for operation in operations:
        valid = exercise(operation, GenerationMode.POSITIVE, worker.web_url)
        broken = exercise(operation, GenerationMode.NEGATIVE, worker.web_url)
        # Some of the valid requests were accepted, some of the broken ones refused.
        assert valid[202] > 0, (operation.label, valid)
        assert sum(n for code, n in broken.items() if 400 <= code < 500) > 0, (
            operation.label,
            broken,
        )

"""The worker's Kafka consumer is built with the fetch wait of its settings (Faust fixes it)."""

from __future__ import annotations

import pytest

from tests.unit.fresh_process import stdout_of

PROBE = """
import asyncio
from agents.app import app

async def built() -> None:
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    print(consumer._fetch_max_wait_ms)

asyncio.run(built())
"""


def fetch_wait_of_a_worker(**env: str) -> int:
    """The fetch wait of the consumer a worker builds, in a fresh process with ``env``."""
    output = stdout_of(PROBE, lambda name: name in ("KAFKA_BROKER", "FETCH_MAX_WAIT_MS"), **env)
    return int(output.split()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 1500),
        ({"FETCH_MAX_WAIT_MS": "20"}, 20),
        ({"KAFKA_BROKER": "kafka://127.0.0.1:9", "FETCH_MAX_WAIT_MS": "75"}, 75),
    ],
)
def test_the_consumer_waits_as_configured(env: dict[str, str], expected: int) -> None:
    assert fetch_wait_of_a_worker(**env) == expected

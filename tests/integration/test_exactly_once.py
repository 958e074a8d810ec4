"""PROCESSING_GUARANTEE=exactly_once on Apache Kafka: a read_committed consumer sees every event
once, and the metric tables count each once (the fault harness adds kill -9 to this)."""

from __future__ import annotations

import time

import pytest

from faults.ledger import RAW_SUFFIX, settle
from processor.samples import sample_requests
from tests.integration.brokers import EMBEDDED, SessionBroker
from tests.integration.kafka_io import produce

REQUESTS = 120


def test_a_read_committed_consumer_sees_each_event_once(
    broker: SessionBroker, start_worker
) -> None:
    if broker.kind == EMBEDDED:
        pytest.skip("the embedded broker refuses transactional producers")
    worker = start_worker(PROCESSING_GUARANTEE="exactly_once")
    now_ms = int(time.time() * 1000)  # in the metric windows still open
    bodies = sample_requests(REQUESTS, events_per_request=50, seed=7, now_ms=now_ms)
    produce(broker.bootstrap, worker.prefix + RAW_SUFFIX, [(body, ()) for body in bodies])
    outcome = settle(broker.bootstrap, worker.prefix, bodies, worker.web_url, exactly_once=True)
    print(f"\nexactly once: {outcome}")
    assert outcome.expected == REQUESTS * 50
    assert (outcome.lost, outcome.raw_lost, outcome.duplicates) == (0, 0, 0)
    assert (outcome.counted_short, outcome.counted_twice) == (0, 0)

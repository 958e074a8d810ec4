"""GET /metrics, /healthz and LOG_FORMAT=json on the real worker: the project's counters equal
what was sent, dead letters per reason, HTTP requests per route and status."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.integration.observability_traffic import (
    VALID_RECORDS,
    post,
    userless_body,
    valid_body,
)
from tests.integration.worker import WorkerProcess

VALID_REQUESTS = 12
USERLESS_REQUESTS = 3


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples(worker: WorkerProcess) -> Samples:
    response = requests.get(worker.web_url + "/metrics", timeout=30)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(found: Samples, name: str, **labels: str) -> float | None:
    return found.get((name, frozenset(labels.items())))


def wait_for(check: Callable[[], Any], timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.5)


def test_metrics_count_records_per_type_and_dead_letters_per_reason(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker(LOG_FORMAT="json")
    for n in range(VALID_REQUESTS):
        assert post(worker, valid_body(f"user-{n}")).status_code == 202
    for _ in range(USERLESS_REQUESTS):
        assert post(worker, userless_body()).status_code == 202
    assert post(worker, valid_body("nobody"), key="not-a-key").status_code == 401

    sent = VALID_REQUESTS + USERLESS_REQUESTS
    found = wait_for(
        lambda: (
            (s := samples(worker)) and value(s, "statsig_stream_raw_messages_total") == sent and s
        )
    )
    assert found, f"the counters never reached {sent} raw messages: {samples(worker)}"
    for kind in ("exposure", "custom", "config_change", "diagnostic"):
        expected = VALID_RECORDS[kind] * VALID_REQUESTS
        assert value(found, "statsig_stream_records_total", type=kind) == expected, kind
    assert value(found, "statsig_stream_dead_letters_total", reason="missing_user") == 3
    assert value(found, "statsig_stream_dead_letters_total", reason="invalid_event") == 0
    events = sum(VALID_RECORDS.values()) * VALID_REQUESTS + USERLESS_REQUESTS
    assert value(found, "statsig_stream_events_total") == events
    assert value(found, "statsig_stream_batch_messages_sum") == sent
    assert value(found, "statsig_stream_batch_events_sum") == events
    batches = value(found, "statsig_stream_batch_seconds_count")
    assert batches is not None and 1 <= batches <= sent
    # Nothing was lost on the way to an agent, so the checkpoint held nothing back.
    assert value(found, "statsig_stream_commit_passes_prevented_total") == 0
    assert value(found, "statsig_stream_stranded_refetches_total") == 0
    assert value(found, "statsig_stream_repeated_requests_total") == 0
    # Every request carried a client time 2 s behind its arrival.
    assert value(found, "statsig_stream_clock_skew_seconds_count") == sent
    assert value(found, "statsig_stream_clock_skew_seconds_bucket", le="1.0") == 0
    assert value(found, "statsig_stream_clock_skew_seconds_bucket", le="5.0") == sent
    assert value(found, "statsig_stream_end_to_end_age_seconds_count") == batches
    http = {"path": "/v1/log_event"}
    assert value(found, "statsig_stream_http_requests_total", **http, status="202") == sent
    assert value(found, "statsig_stream_http_requests_total", **http, status="401") == 1
    lags = {
        dict(labels)["topic"]: v
        for (name, labels), v in found.items()
        if name == "statsig_stream_consumer_lag"
    }
    raw_topic = worker.env["TOPIC_PREFIX"] + "events.raw"
    assert raw_topic in lags and lags[raw_topic] == 0
    # Faust's own sensor, under its fixed prefix.
    assert (value(found, "faust_messages_received_total") or 0) >= sent

    health = requests.get(worker.web_url + "/healthz", timeout=30)
    assert health.status_code == 200 and health.json() == {"status": "OK"}

    status = requests.get(worker.web_url + "/status.json", timeout=30).json()
    assert status["totals"]["records"]["custom"] == 2 * VALID_REQUESTS
    assert status["totals"]["deadLetters"]["missing_user"] == USERLESS_REQUESTS

    lines = [line for line in worker.log().splitlines() if line.strip()]
    assert lines, "the worker logged nothing"
    for line in lines:
        entry = json.loads(line)
        assert {"level", "logger", "message"} <= entry.keys(), line
    assert any(json.loads(line)["message"] == "[^Worker]: Ready" for line in lines)


def test_the_startup_heap_is_frozen_and_collections_are_timed(
    start_worker: Callable[..., WorkerProcess],
) -> None:
    worker = start_worker()
    for n in range(3):
        assert post(worker, valid_body(f"user-{n}")).status_code == 202
    found = wait_for(
        lambda: (s := samples(worker)) and value(s, "statsig_stream_raw_messages_total") == 3 and s
    )
    assert found, "the worker never counted the 3 requests"
    # A started worker holds tens of thousands of long-lived objects; they are frozen.
    frozen = value(found, "statsig_stream_gc_frozen_objects")
    assert frozen is not None and frozen > 10_000, frozen
    young = value(found, "statsig_stream_gc_pause_seconds_count", generation="0")
    assert young is not None and young > 0, young

"""Hostile input through Kafka: the worker neither crashes nor stalls, memory stays bounded, and
every input ends as records or dead letters, counted."""

from __future__ import annotations

import json
from collections import Counter

import pytest

from bench.worker import rss_bytes
from tests.hostile_corpus import CORPUS
from tests.integration.kafka_io import produce, read_topics
from tests.integration.test_pipeline import output_topics

pytestmark = pytest.mark.slow
#: Far above what the worker needs for the corpus (~0.5 GB measured), far below what an
#: unbounded inflate of the 256 MiB bomb or a leak would take.
RSS_CAP_BYTES = 1536 * 1024 * 1024


def test_hostile_inputs_through_kafka_end_as_records_or_dead_letters(
    start_worker, bootstrap
) -> None:
    worker = start_worker()
    assert worker.process is not None
    prefix = worker.env["TOPIC_PREFIX"]
    messages = [
        (
            case.body,
            [
                ("statsig-source", case.name.encode()),
                *[(k, v.encode()) for k, v in case.headers.items()],
            ],
        )
        for case in CORPUS
    ]
    produce(bootstrap, prefix + "events.raw", messages, max_request_size=32 * 1024 * 1024)
    expected = sum(case.records + sum(case.dead_letters.values()) for case in CORPUS)
    seen = read_topics(
        bootstrap, output_topics(prefix), lambda got: len(got) >= expected, timeout=240
    )

    dead = Counter(
        (record.value["headers"]["statsig-source"], record.value["reason"])
        for record in seen
        if record.topic.endswith("events.invalid")
    )
    assert dead == Counter(
        {
            (case.name, reason): count
            for case in CORPUS
            for reason, count in case.dead_letters.items()
        }
    )
    records = Counter(
        record.value["eventName"] for record in seen if not record.topic.endswith("invalid")
    )
    assert records == {"e": 100_000, "second": 1}
    assert worker.process.poll() is None, worker.log()[-3000:]
    rss = rss_bytes(worker.process.pid)
    print(f"\nworker RSS after the hostile corpus: {rss / 2**20:.0f} MiB")
    assert rss < RSS_CAP_BYTES

    # Not stalled: an ordinary request still flows through after all of that.
    produce(
        bootstrap,
        prefix + "events.raw",
        [(json.dumps({"events": [{"eventName": "after", "user": {"userID": "z"}}]}).encode(), [])],
    )
    after = read_topics(
        bootstrap,
        [prefix + "events.custom"],
        lambda got: any(r.value["eventName"] == "after" for r in got),
        timeout=60,
    )
    assert any(record.value["eventName"] == "after" for record in after)

"""Hostile input through HTTP: each request is refused with a 4xx or accepted and then ends as
the records and dead letters the corpus says; the worker stays up and keeps serving."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import requests

from tests.hostile_corpus import CORPUS
from tests.integration.kafka_io import read_topics
from tests.integration.test_pipeline import output_topics

pytestmark = pytest.mark.slow
KEY = {"statsig-api-key": "secret-dev-statsig-stream"}


def test_hostile_requests_get_a_4xx_or_end_as_records_and_dead_letters(
    start_worker, bootstrap
) -> None:
    worker = start_worker()
    prefix = worker.env["TOPIC_PREFIX"]
    statuses: dict[str, int] = {}
    for case in CORPUS:
        # The SDK type header tags every output of the case: dead letters carry it in their
        # headers, records in statsigMetadata.sdkType.
        headers = {**KEY, **case.headers, "statsig-sdk-type": case.name}
        response = requests.post(
            worker.web_url + "/v1/log_event", data=case.body, headers=headers, timeout=120
        )
        statuses[case.name] = response.status_code
        assert response.status_code in (202, 400, 413, 415), (case.name, response.text)
        if response.status_code != 202:
            assert set(response.json()) == {"message", "status"}
    accepted = [case for case in CORPUS if statuses[case.name] == 202]
    print(f"\nHTTP statuses of the hostile corpus: {statuses}")
    # Over the request size limit, or unreadable as a request: refused before Kafka.
    for name in ("gzip_bomb", "ten_megabyte_string", "hundred_thousand_events"):
        assert statuses[name] == 413
    for name in (
        "truncated_gzip",
        "corrupt_gzip",
        "deep_nesting",
        "nan_and_infinity",
        "events_not_a_list",
    ):
        assert statuses[name] == 400

    expected = sum(case.records + sum(case.dead_letters.values()) for case in accepted)
    seen = read_topics(bootstrap, output_topics(prefix), lambda got: len(got) >= expected)
    dead = Counter(
        (r.value["headers"]["statsig-sdk-type"], r.value["reason"])
        for r in seen
        if r.topic.endswith("invalid")
    )
    records = Counter(
        r.value["statsigMetadata"]["sdkType"] for r in seen if not r.topic.endswith("invalid")
    )
    assert dead == Counter(
        {(c.name, reason): n for c in accepted for reason, n in c.dead_letters.items()}
    )
    assert records == Counter({c.name: c.records for c in accepted if c.records})

    assert worker.process is not None and worker.process.poll() is None
    after = {"events": [{"eventName": "after", "user": {"userID": "z"}}]}
    assert (
        requests.post(
            worker.web_url + "/v1/log_event", data=json.dumps(after), headers=KEY, timeout=30
        ).status_code
        == 202
    )

"""The real worker on a real broker: raw requests in, per-type topics and dead letters out."""

from __future__ import annotations

import gzip
import json
import random
from collections import Counter
from pathlib import Path

import orjson
import pytest
from aiokafka.partitioner import DefaultPartitioner

from agents.settings import Settings
from processor import EventType, classify
from processor.samples import sample_request
from tests.integration.kafka_io import Consumed, produce, read_topics

#: The newcomer's default, the embedded broker, runs these too (`make test`).
pytestmark = pytest.mark.smoke

DATA = Path(__file__).resolve().parents[1] / "data"
RECEIVED_AT = 1_700_000_000_000
CLIENT_BEHIND_MS = 60_000
RECORD_FIELDS = {
    "eventName", "user", "userID", "timestamp", "value", "metadata", "statsigMetadata",
    "timeUUID", "clientTimestamp", "receivedAt", "clockSkewMs", "timestampClamped",
}  # fmt: skip
OUTPUT_SUFFIXES = [f"events.{kind.value}" for kind in EventType] + ["events.invalid"]


def skewed_headers(**extra: bytes) -> list[tuple[str, bytes]]:
    """A client whose clock runs a minute behind the server's."""
    return [
        ("statsig-received-at", str(RECEIVED_AT).encode()),
        ("statsig-client-time", str(RECEIVED_AT - CLIENT_BEHIND_MS).encode()),
        *extra.items(),
    ]


def output_topics(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in OUTPUT_SUFFIXES]


def by_topic(records: list[Consumed], prefix: str) -> dict[str, list[Consumed]]:
    grouped: dict[str, list[Consumed]] = {suffix: [] for suffix in OUTPUT_SUFFIXES}
    for record in records:
        grouped[record.topic.removeprefix(prefix)].append(record)
    return grouped


def test_requests_become_typed_records_and_dead_letters(start_worker, bootstrap) -> None:
    worker = start_worker()
    prefix = worker.env["TOPIC_PREFIX"]

    mixed = sample_request(
        random.Random(7), events_per_request=50, now_ms=RECEIVED_AT - CLIENT_BEHIND_MS
    )
    one_bad = json.dumps(
        {
            "user": {"userID": "u-shared", "privateAttributes": {"ssn": "123"}},
            "events": [
                {"eventName": "purchase", "value": 9.99, "time": RECEIVED_AT - 70_000},
                {"eventName": "purchase", "user": {"userID": "u-2", "country": "usa"}},
                {"eventName": "statsig::diagnostics", "time": RECEIVED_AT - 65_000},
            ],
        }
    ).encode()
    requests = [
        ((DATA / "seed_001_log_event_request.json").read_bytes(), skewed_headers()),
        ((DATA / "seed_001_log_event_request_repaired.json").read_bytes(), skewed_headers()),
        ((DATA / "seed_003_example_batch.json").read_bytes(), skewed_headers()),
        ((DATA / "seed_003_example_batch_repaired.json").read_bytes(), skewed_headers()),
        (gzip.compress(mixed), skewed_headers(**{"content-encoding": b"gzip"})),
        (b"\x1f\x8b\x08not-really-gzip", skewed_headers(**{"content-encoding": b"gzip"})),
        (one_bad, skewed_headers()),
    ]
    # Events per decodable request: seed 001 (1, its e-mail is broken), repaired (1),
    # seed 003 batch (undecodable), repaired batch (3), the mix (50), corrupt gzip, one_bad (3).
    expected_records = 0 + 1 + 3 + 50 + 2
    expected_dead = Counter(invalid_event=2, invalid_json=1, invalid_encoding=1)
    produce(bootstrap, prefix + "events.raw", requests)

    total = expected_records + sum(expected_dead.values())
    seen = read_topics(bootstrap, output_topics(prefix), lambda got: len(got) >= total)
    topics = by_topic(seen, prefix)
    records = [
        record for suffix, got in topics.items() if suffix != "events.invalid" for record in got
    ]
    dead = topics["events.invalid"]

    # Counts add up: every event is a record or a dead letter, nothing more.
    assert len(records) == expected_records
    assert Counter(letter.value["reason"] for letter in dead) == expected_dead
    # Each event sits in exactly the topic its type names, with the exact fields and key.
    for record in records:
        value = record.value
        kind = classify(value["eventName"])
        assert record.topic == f"{prefix}events.{kind.value}"
        assert record.headers["statsig-event-type"] == kind.value.encode()
        expected_fields = RECORD_FIELDS | ({"unitID"} if kind is EventType.EXPOSURE else set())
        optional = {"secondaryExposures", "enrichment"}
        assert expected_fields <= set(value) <= expected_fields | optional
        if value["userID"]:
            assert record.key == value["userID"].encode()
        assert value["receivedAt"] == RECEIVED_AT
        assert value["clockSkewMs"] == CLIENT_BEHIND_MS
        assert value["timestamp"] == min(value["clientTimestamp"] + CLIENT_BEHIND_MS, RECEIVED_AT)
        assert "privateAttributes" not in value["user"]
    for record in seen:
        assert b"privateAttributes" not in orjson.dumps(record.value)
    # A key's records sit on one partition, the one Kafka's default partitioner picks
    # (murmur2 of the key), as any other Kafka client would place them.
    partitions = list(range(Settings.from_env().topic_partitions))
    placements = {(r.topic, r.key): {r.partition} for r in records if r.key is not None}
    for record in records:
        if record.key is not None:
            placements[(record.topic, record.key)].add(record.partition)
    assert placements
    for (_, key), placed in placements.items():
        assert placed == {DefaultPartitioner()(key, partitions, partitions)}
    assert len({record.value["timeUUID"] for record in records}) == expected_records

    # The repaired seed 001 request: one custom event of user-123, clock corrected.
    (seed_001,) = [r.value for r in records if r.value["userID"] == "user-123"]
    assert seed_001["eventName"] == "<string>"
    assert seed_001["clientTimestamp"] == 123
    assert seed_001["timestamp"] == 123 + CLIENT_BEHIND_MS
    # The repaired seed 003 batch: its three events, typed, with the timeUUIDs it supplied.
    batch = {r.value["eventName"]: r for r in records if r.value["userID"] == "user_1"}
    assert batch["page_view"].topic == f"{prefix}events.custom"
    assert batch["statsig::gate_exposure"].value["unitID"] == "userID"
    assert (
        batch["statsig::experiment_exposure"].value["metadata"]["experimentGroupName"] == "Control"
    )
    assert batch["page_view"].value["timeUUID"] == "f4c414a0-8ab5-11ec-a8a3-0242ac120002"

    # Dead letters say why and where, and carry the original for a replay.
    errors = {
        letter.value["reason"]: letter.value for letter in dead if letter.value["index"] is None
    }
    assert errors["invalid_json"]["origin"]["topic"] == prefix + "events.raw"
    assert "body" in errors["invalid_json"]
    per_event = sorted(
        (letter.value for letter in dead if letter.value["index"] is not None),
        key=lambda value: value["error"].rsplit("`", 2)[-2],
    )
    assert [value["error"].rsplit("`", 2)[-2] for value in per_event] == [
        "$.events[0].user.email",
        "$.events[1].user.country",
    ]
    assert per_event[1]["event"]["user"] == {"userID": "u-2", "country": "usa"}
    assert per_event[1]["requestUser"] == {"userID": "u-shared"}

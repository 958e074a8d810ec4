"""The examples of the seed documents, kept as files under tests/data (see its README)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from raw_messages import (
    RECORD_TIMESTAMP,
    kept_body,
    only_dead_letter,
    only_record,
    process,
    seed_file,
    value_of,
)

from processor import EventType
from processor.timeuuid import parse_uuid, uuid_time_ms

SEED_001 = "seed_001_log_event_request.json"
SEED_001_REPAIRED = "seed_001_log_event_request_repaired.json"
SEED_003_RECORDS = {
    "seed_003_custom_event_record.json": EventType.CUSTOM,
    "seed_003_gate_exposure_record.json": EventType.EXPOSURE,
    "seed_003_config_exposure_record.json": EventType.EXPOSURE,
    "seed_003_experiment_exposure_record.json": EventType.EXPOSURE,
}
SEED_003_BATCH = "seed_003_example_batch.json"
SEED_003_BATCH_REPAIRED = "seed_003_example_batch_repaired.json"
#: Seed 000 makes the client-time header required; the client runs 1 s behind the server here.
CLIENT_TIME = {"statsig-client-time": str(RECORD_TIMESTAMP - 1_000)}


def without_private(user: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in user.items() if name != "privateAttributes"}


def test_seed_001_request_with_the_scraped_email_is_an_invalid_event_at_the_email() -> None:
    data = seed_file(SEED_001)
    assert "[email\u00a0protected]".encode() in data, "the file keeps the seed as scraped"
    result = process(data, CLIENT_TIME)
    assert result.event_count == 1
    letter = only_dead_letter(result)
    assert letter["reason"] == "invalid_event"
    assert letter["index"] == 0
    assert "`$.events[0].user.email`" in letter["error"]
    sent = json.loads(data)["events"][0]
    assert letter["event"] == {**sent, "user": without_private(sent["user"])}
    assert b"internal_user_id" not in result.dead_letters[0].value


def test_seed_001_request_with_a_repaired_email_becomes_the_record_it_describes() -> None:
    data = seed_file(SEED_001_REPAIRED)
    request = json.loads(data)
    [sent] = request["events"]
    output = only_record(process(data, CLIENT_TIME))
    record = value_of(output)

    assert output.type is EventType.CUSTOM
    assert output.key == b"user-123"
    assert record["eventName"] == sent["eventName"]
    assert record["user"] == without_private(sent["user"])
    assert record["userID"] == sent["user"]["userID"]
    assert record["timestamp"] == sent["time"] + 1_000
    assert record["value"] == sent["value"]
    assert record["metadata"] == sent["metadata"]
    assert record["statsigMetadata"] == {**request["statsigMetadata"], **sent["statsigMetadata"]}
    assert uuid.UUID(record["timeUUID"]).version == 1
    assert uuid_time_ms(record["timeUUID"]) == record["timestamp"]
    assert record["clientTimestamp"] == sent["time"]
    assert record["receivedAt"] == RECORD_TIMESTAMP
    assert record["clockSkewMs"] == 1_000
    assert record["timestampClamped"] is False
    assert "unitID" not in record, "a custom event"
    assert "secondaryExposures" not in record, "a custom event"


def event_from_record(record: dict[str, Any]) -> dict[str, Any]:
    """The input event a seed 003 record was made from: its ``timestamp`` is the event time."""
    fields = ("eventName", "user", "value", "metadata", "statsigMetadata", "timeUUID")
    return {"time": int(record["timestamp"]), **{name: record[name] for name in fields}}


@pytest.mark.parametrize(("name", "kind"), SEED_003_RECORDS.items(), ids=list(SEED_003_RECORDS))
def test_seed_003_record_is_what_its_event_becomes(name: str, kind: EventType) -> None:
    seed = json.loads(seed_file(name))
    time = int(seed["timestamp"])
    data = json.dumps({"events": [event_from_record(seed)]}).encode()
    output = only_record(process(data, record_timestamp=time + 5_000))
    record = value_of(output)

    assert output.type is kind
    assert output.key == seed["userID"].encode()
    for field in ("eventName", "user", "userID", "value", "metadata", "statsigMetadata"):
        assert record[field] == seed[field], field
    assert record.get("unitID") == seed.get("unitID")
    # DESIGN §4: the timestamp is an int of ms, where the seed writes it as a string.
    assert record["timestamp"] == time
    # DESIGN §3: a timeUUID that parses is kept; seed 003's gate example has a "g" in it.
    if parse_uuid(seed["timeUUID"]):
        assert record["timeUUID"] == seed["timeUUID"]
    else:
        assert record["timeUUID"] != seed["timeUUID"]
        assert uuid_time_ms(record["timeUUID"]) == time


def test_only_the_gate_example_of_seed_003_has_an_unparseable_time_uuid() -> None:
    unparseable = [
        name for name in SEED_003_RECORDS if not parse_uuid(json.loads(seed_file(name))["timeUUID"])
    ]
    assert unparseable == ["seed_003_gate_exposure_record.json"]


def test_seed_003_example_batch_with_its_missing_comma_is_one_invalid_json_dead_letter() -> None:
    data = seed_file(SEED_003_BATCH)
    result = process(data)
    assert result.event_count == 0
    letter = only_dead_letter(result)
    assert letter["reason"] == "invalid_json"
    assert kept_body(letter) == data


def test_repaired_seed_003_batch_is_accepted_as_a_bare_array_of_events() -> None:
    data = seed_file(SEED_003_BATCH_REPAIRED)
    seeds = json.loads(data)
    result = process(data)
    assert result.dead_letters == []
    assert [output.type for output in result.records] == [
        EventType.CUSTOM,
        EventType.EXPOSURE,
        EventType.EXPOSURE,
    ]
    for output, seed in zip(result.records, seeds, strict=True):
        record = value_of(output)
        assert output.key == b"user_1"
        for field in ("eventName", "user", "userID", "value", "metadata", "timeUUID"):
            assert record[field] == seed[field], field
        assert record.get("unitID") == seed.get("unitID")
        # The batch items carry seed 003's `timestamp` instead of `time`: it is the event time.
        assert record["clientTimestamp"] == seed["timestamp"]
        assert record["timestamp"] == seed["timestamp"]

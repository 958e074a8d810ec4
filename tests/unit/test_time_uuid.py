"""DESIGN §3, timeUUID: kept when the client sent a valid one, else a deterministic version-1
UUID on the corrected time, the same for a redelivered request and distinct between events."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_messages import RECORD_TIMESTAMP, accepted, body, event, process, value_of

from processor.timeuuid import uuid_time_ms

R = RECORD_TIMESTAMP
ONE_YEAR_MS = 365 * 24 * 3_600_000
MULTICAST_BIT = 1 << 40


def generated_uuids(data: bytes, headers: dict[str, str] | None = None) -> list[str]:
    result = process(data, headers)
    assert result.dead_letters == []
    return [record.time_uuid for record in result.records]


@pytest.mark.parametrize(
    "sent",
    [
        "f4c414a0-8ab5-11ec-a8a3-0242ac120002",
        "ABD2A983-EC0F-11EC-917A-FB8CDAEDA578",
        "3f2c5b8e-9d4a-4c1e-8f7b-2a6d9e0c1b5a",
    ],
    ids=["v1", "upper-case", "v4"],
)
def test_client_time_uuid_that_parses_is_kept_as_sent(sent: str) -> None:
    assert accepted(event(timeUUID=sent))["timeUUID"] == sent


@pytest.mark.parametrize(
    "sent",
    [
        "8d7c1040-ec11-11ec-g123-abe2c32fcf46",
        "not-a-uuid",
        "",
        "f4c414a0-8ab5-11ec-a8a3-0242ac12000",
        "+0000000-0000-0000-0000-000000000000",
        " 0000000-0000-0000-0000-000000000000",
    ],
    ids=["non-hex-digit", "text", "empty", "short", "signed", "space"],
)
def test_client_time_uuid_that_does_not_parse_is_replaced_by_a_generated_one(sent: str) -> None:
    record = accepted(event(time=R - 1_234, timeUUID=sent))
    generated = uuid.UUID(record["timeUUID"])
    assert record["timeUUID"] != sent
    assert generated.version == 1
    assert uuid_time_ms(record["timeUUID"]) == R - 1_234


def test_generated_time_uuid_carries_the_clamped_time() -> None:
    record = accepted(event(time=R + 60_000))
    assert record["timestampClamped"] is True
    assert uuid_time_ms(record["timeUUID"]) == R


def test_the_record_and_its_time_uuid_field_agree() -> None:
    [record] = process(body(event())).records
    assert record.time_uuid == value_of(record)["timeUUID"]


event_times = st.integers(min_value=0, max_value=R + 86_400_000)
client_times = st.integers(min_value=R - ONE_YEAR_MS, max_value=R + ONE_YEAR_MS)
key_ids = st.text(max_size=20)
event_lists = st.lists(
    st.builds(
        lambda name, time, value: event(name, time=time, value=value),
        st.sampled_from(["page_view", "statsig::gate_exposure", "statsig::diagnostics"]),
        event_times,
        st.one_of(st.none(), st.text(max_size=8), st.integers()),
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None)
@given(events=event_lists, sent=client_times, key_id=key_ids)
def test_generated_time_uuid_is_version_1_on_the_corrected_time_with_a_multicast_node(
    events: list[dict[str, Any]], sent: int, key_id: str
) -> None:
    headers = {"statsig-client-time": str(sent), "statsig-key-id": key_id}
    result = process(body(*events), headers)
    assert result.records
    for record in result.records:
        decoded = uuid.UUID(record.time_uuid)
        assert decoded.version == 1
        assert decoded.variant == uuid.RFC_4122
        assert decoded.node & MULTICAST_BIT
        assert uuid_time_ms(record.time_uuid) == value_of(record)["timestamp"]


@settings(max_examples=100, deadline=None)
@given(events=event_lists, key_id=key_ids)
def test_the_same_request_processed_twice_gets_the_same_time_uuids(
    events: list[dict[str, Any]], key_id: str
) -> None:
    data, headers = body(*events), {"statsig-key-id": key_id}
    assert generated_uuids(data, headers) == generated_uuids(data, headers)


@settings(max_examples=100, deadline=None)
@given(copies=st.integers(min_value=2, max_value=50))
def test_identical_events_at_different_indexes_get_different_time_uuids(copies: int) -> None:
    uuids = generated_uuids(body(*[event()] * copies))
    assert len(set(uuids)) == copies


@settings(max_examples=100, deadline=None)
@given(events=event_lists, key_ids=st.lists(key_ids, min_size=2, max_size=2, unique=True))
def test_the_same_body_under_another_key_id_gets_other_time_uuids(
    events: list[dict[str, Any]], key_ids: list[str]
) -> None:
    data = body(*events)
    first, second = (generated_uuids(data, {"statsig-key-id": key}) for key in key_ids)
    assert set(first).isdisjoint(second)


@settings(max_examples=100, deadline=None)
@given(events=event_lists, changed=st.data())
def test_a_different_body_gets_other_time_uuids(events: list[dict[str, Any]], changed: Any) -> None:
    index = changed.draw(st.integers(min_value=0, max_value=len(events) - 1))
    other = [dict(e) for e in events]
    other[index]["metadata"] = {"changed": "yes"}
    assert set(generated_uuids(body(*events))).isdisjoint(generated_uuids(body(*other)))

"""A request is decoded in one call when it can be, and event by event when one of its events
is bad: both readings must give the same records, so how a request was read never shows."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from processor import OutputRecord, ProcessedRequest
from processor.ingest import (
    process_request,
    process_request_in_one_call,
    process_request_per_event,
)
from processor.samples import sample_requests
from processor.timeuuid import uuid_time_ms

NOW = 1_700_000_000_000
HEADERS = {
    "statsig-client-time": str(NOW - 1_500),
    "statsig-received-at": str(NOW + 250),
    "statsig-key-id": "key-1",
}
NAMES = [
    "page_view",
    "purchase",
    "statsig::gate_exposure",
    "statsig::config_exposure",
    "statsig::experiment_exposure",
    "statsig::layer_exposure",
    "statsig::config_change",
    "statsig::diagnostics",
]
KEYS = ["gate", "config", "ruleID", "gateValue", "experimentGroupName", "stableID", "x", "é"]

texts = st.text(max_size=8)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=6,
)
user_fields = {
    "email": st.just("a@example.com"),
    "country": st.sampled_from(["US", "GB"]),
    "custom": st.dictionaries(texts, json_values, max_size=2),
    "privateAttributes": st.dictionaries(texts, json_values, max_size=2) | st.none(),
    "favouriteColour": json_values,
}
#: Mostly users with a unit id; some with none, whose events are dead letters unless they are
#: diagnostics or statsigMetadata names a stableID.
valid_users = st.one_of(
    st.fixed_dictionaries({"userID": st.sampled_from(["u-1", "u-2", "ü-3"])}, optional=user_fields),
    st.fixed_dictionaries(
        {"customIDs": st.dictionaries(st.sampled_from(["stableID", "companyID"]), texts)},
        optional=user_fields,
    ),
    st.fixed_dictionaries({}, optional=user_fields),
)
event_times = st.integers(0, 2**53) | st.integers(0, 10**18 - 1).map(str)
valid_events = st.fixed_dictionaries(
    {"eventName": st.sampled_from(NAMES)},
    optional={
        "user": valid_users | st.none(),
        "time": event_times | st.none(),
        "timestamp": event_times,
        "value": texts | st.integers(-(2**64), 2**64) | st.floats(-1e12, 1e12) | st.none(),
        "metadata": st.dictionaries(st.sampled_from(KEYS), json_values, max_size=4),
        "secondaryExposures": st.lists(
            st.fixed_dictionaries({"gate": texts}, optional={"ruleID": texts}), max_size=2
        ),
        "statsigMetadata": st.dictionaries(st.sampled_from(KEYS), json_values, max_size=2),
        "timeUUID": st.uuids().map(str) | st.just("not-a-uuid"),
        "extra": json_values,
    },
)
request_fields = st.fixed_dictionaries(
    {"user": valid_users},
    optional={
        "statsigMetadata": st.dictionaries(st.sampled_from(KEYS), json_values, max_size=3),
    },
)
#: Each breaks one rule of DESIGN §3 and makes its event a dead letter.
BREAKAGES: list[dict[str, Any]] = [
    {"eventName": ""},
    {"eventName": 7},
    {"time": -1},
    {"time": "soon"},
    {"value": [1]},
    {"value": 10**400},
    {"metadata": "not an object"},
    {"user": {"userID": "u-1", "country": "usa"}},
    {"user": {"userID": 5}},
    {"user": "not an object"},
    {"user": {"email": "a@example.com"}, "statsigMetadata": {"stableID": ""}},
]


def ensure_ascii_dumps(request: Any, ascii_only: bool) -> bytes:
    return json.dumps(request, ensure_ascii=ascii_only).encode()


def shape(events: list[dict[str, Any]], fields: dict[str, Any], bare: bool) -> Any:
    """A request body; a bare array has no request user, so its events get that one."""
    if bare:
        return [{"user": fields["user"], **event} for event in events]
    return {"events": events, **fields}


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(valid_events, min_size=1, max_size=6),
    fields=request_fields,
    bare=st.booleans(),
    ascii_only=st.booleans(),
)
def test_request_decoded_in_one_call_gives_the_records_of_reading_it_event_by_event(
    events: list[dict[str, Any]], fields: dict[str, Any], bare: bool, ascii_only: bool
) -> None:
    data = ensure_ascii_dumps(shape(events, fields, bare), ascii_only)
    one_call = process_request_in_one_call(data, HEADERS, NOW)
    per_event = process_request_per_event(data, HEADERS, NOW)
    if per_event.dead_letters:
        assert one_call is None
    else:
        assert one_call == per_event
        assert len(per_event.records) == len(events)
    assert process_request(data, HEADERS, NOW) == per_event


def comparable(record: OutputRecord) -> tuple[Any, ...]:
    """A record without its generated timeUUID, which hashes the body and the event's index."""
    value = json.loads(record.value)
    uuid = value.pop("timeUUID")
    assert uuid == record.time_uuid
    return (record.type, record.key, record.event_name, record.timestamp, record.unit_id,
            record.numeric_value, record.exposure, value)  # fmt: skip


def supplied_or_on_time(record: OutputRecord, sent: dict[str, Any]) -> None:
    """A generated timeUUID still carries the corrected time; a supplied one is kept."""
    if record.time_uuid != sent.get("timeUUID"):
        assert uuid_time_ms(record.time_uuid) == record.timestamp


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(valid_events, min_size=1, max_size=5),
    fields=request_fields,
    bare=st.booleans(),
    breakage=st.sampled_from(BREAKAGES),
    data=st.data(),
)
def test_a_bad_event_leaves_the_records_of_the_others_as_without_it(
    events: list[dict[str, Any]],
    fields: dict[str, Any],
    bare: bool,
    breakage: dict[str, Any],
    data: st.DataObject,
) -> None:
    without_bad = process_request_in_one_call(
        ensure_ascii_dumps(shape(events, fields, bare), True), HEADERS, NOW
    )
    if without_bad is None:  # a generated event is itself a dead letter (no unit id)
        return
    at = data.draw(st.integers(0, len(events)), label="bad event index")
    bad = {"eventName": "page_view", "user": {"userID": "u-9"}, **breakage}
    with_bad = process_request(
        ensure_ascii_dumps(shape([*events[:at], bad, *events[at:]], fields, bare), True),
        HEADERS,
        NOW,
    )
    assert [letter.index for letter in with_bad.dead_letters] == [at]
    assert with_bad.event_count == len(events) + 1
    assert list(map(comparable, with_bad.records)) == list(map(comparable, without_bad.records))
    for record, sent in zip(with_bad.records, events, strict=True):
        supplied_or_on_time(record, sent)


def test_request_without_bad_events_is_decoded_in_one_call() -> None:
    data = ensure_ascii_dumps(
        {"events": [{"eventName": "a", "user": {"userID": "u"}}], "user": {"userID": "v"}}, True
    )
    result = process_request_in_one_call(data, HEADERS, NOW)
    assert isinstance(result, ProcessedRequest)
    assert len(result.records) == 1


def test_sample_requests_are_decoded_in_one_call_with_the_records_of_the_per_event_reading() -> (
    None
):
    for data in sample_requests(40, events_per_request=20, seed=7, now_ms=NOW):
        one_call = process_request_in_one_call(data, HEADERS, NOW)
        assert one_call is not None
        assert one_call == process_request_per_event(data, HEADERS, NOW)

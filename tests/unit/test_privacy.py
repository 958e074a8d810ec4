"""DESIGN §3, Privacy: ``user.privateAttributes`` never leaves the worker, neither in a record
nor in a dead letter, whether it sat on the event's user or on the request's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_messages import (
    ABSENT,
    body,
    event,
    gzipped,
    json_bytes,
    only_dead_letter,
    process,
    value_of,
)

from processor import DeadLetterRecord, OutputRecord, ProcessedRequest

#: Upper-case letters appear in no other generated text, so the secret cannot arise by chance.
SECRET = "SECRET-SSN-123"
PRIVATE = {"ssn": SECRET, SECRET: "as a key too"}


def private_user(**fields: Any) -> dict[str, Any]:
    return {"userID": "u-1", "privateAttributes": PRIVATE, **fields}


def output_bytes(result: ProcessedRequest) -> bytes:
    messages: list[OutputRecord | DeadLetterRecord] = [*result.records, *result.dead_letters]
    return b"\n".join(message.value + (message.key or b"") for message in messages)


def assert_no_secret(result: ProcessedRequest) -> None:
    assert SECRET.encode() not in output_bytes(result)


@pytest.mark.parametrize("where", ["event", "request"])
def test_private_attributes_are_absent_from_records(where: str) -> None:
    if where == "event":
        result = process(body(event(user=private_user(locale="en_US"))))
    else:
        result = process(body(event(user=ABSENT), user=private_user(locale="en_US")))
    [record] = result.records
    assert value_of(record)["user"] == {"userID": "u-1", "locale": "en_US"}
    assert_no_secret(result)


def test_private_attributes_are_absent_from_an_invalid_events_dead_letter() -> None:
    bad_event = event(user=private_user(country="us"))
    result = process(body(bad_event, event(user=ABSENT), user=private_user()))
    assert [d.index for d in result.dead_letters] == [0]
    letter = value_of(result.dead_letters[0])
    assert letter["event"]["user"] == {"userID": "u-1", "country": "us"}
    assert letter["requestUser"] == {"userID": "u-1"}
    assert_no_secret(result)


def test_broken_request_user_keeps_its_private_attributes_out_of_dead_letters() -> None:
    result = process(body(event(user=ABSENT), user=private_user(country="usa")))
    letter = only_dead_letter(result)
    assert letter["reason"] == "invalid_event"
    assert "requestUser" not in letter
    assert_no_secret(result)


@pytest.mark.parametrize(
    "data",
    [
        b'{"events": {"eventName": "e"}, "user": {"privateAttributes": {"ssn": "%s"}}}',
        b'{"events": [], "user": {"userID": "u", "privateAttributes": {"ssn": "%s"}}}',
        b'{"events": [{"eventName": "e", "user": {"privateAttributes": {"ssn": "%s"}}}',
        b'{"events": {}, "user": {"\\u0070rivateAttributes": {"ssn": "%s"}}}',
        b'{"events": {}, "user": {"privateAttribute\\u0073": {"ssn": "%s"}}}',
    ],
    ids=["invalid-request", "no-events", "invalid-json", "escaped-key", "escaped-last-letter"],
)
def test_request_dead_letter_omits_a_body_that_may_hold_private_attributes(data: bytes) -> None:
    result = process(data % SECRET.encode())
    letter = only_dead_letter(result)
    assert letter["omitted"] == "private_attributes"
    assert_no_secret(result)


def test_event_that_python_cannot_hold_is_omitted_when_it_has_private_attributes() -> None:
    data = (
        b'{"events": [{"eventName": "e", "value": 1e999,'
        b' "user": {"privateAttributes": {"a": "%s"}}}]}'
    )
    result = process(data % SECRET.encode())
    letter = only_dead_letter(result)
    assert letter["reason"] == "invalid_event"
    assert letter["omitted"] == "private_attributes"
    assert_no_secret(result)


# Generated users: valid or broken, on the event or the request, private attributes always.
plain_text = st.text(alphabet="abcxyz019 -_.@é", max_size=10)
users = st.fixed_dictionaries(
    {
        "privateAttributes": st.dictionaries(st.sampled_from(["ssn", SECRET]), st.just(SECRET)),
        "userID": st.sampled_from(["u-1", "u-2", "u-3", ""]),
    },
    optional={
        "country": st.sampled_from(["US", "GB", "us"]),
        "email": st.sampled_from(["a@example.com", "b@example.org", "not an email"]),
        "customIDs": st.dictionaries(st.sampled_from(["stableID", "companyID"]), plain_text),
        "custom": st.dictionaries(plain_text, plain_text, max_size=2),
        "favouriteColour": plain_text,
    },
)
events = st.fixed_dictionaries(
    {"eventName": st.sampled_from(["page_view", "statsig::gate_exposure", "statsig::x", ""])},
    optional={"user": users, "time": st.integers(-5, 2**62), "value": st.integers() | plain_text},
)
#: Mostly lists of events, sometimes a non-list that makes the request invalid.
event_collections = st.one_of(
    st.lists(events, max_size=4),
    st.lists(events, min_size=1, max_size=4),
    st.dictionaries(plain_text, events, max_size=1),
)
requests = st.fixed_dictionaries(
    {"events": event_collections},
    optional={"user": users | st.none()},
)


@settings(max_examples=200, deadline=None)
@given(
    request=requests,
    bare=st.booleans(),
    escape=st.booleans(),
    cut=st.sampled_from([0, 0, 0, 1, 9]),
    compress=st.booleans(),
)
def test_private_attributes_never_appear_in_any_output_for_generated_users(
    request: dict[str, Any], bare: bool, escape: bool, cut: int, compress: bool
) -> None:
    data = json_bytes(request["events"] if bare else request)
    if escape:
        data = data.replace(b'"privateAttributes"', b'"\\u0070rivateAttributes"')
    if cut:
        data = data[:-cut]
    gzip = {"content-encoding": "gzip"}
    result = process(gzipped(data), gzip) if compress else process(data)
    assert_no_secret(result)

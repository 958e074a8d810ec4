"""DESIGN §3: each event is decoded and judged on its own against the field rules of seed 002."""

from __future__ import annotations

from typing import Any

import pytest
from raw_messages import USER, accepted, body, event, process, rejected, value_of


def test_one_bad_event_never_sinks_its_batch() -> None:
    events = [
        event("first"),
        {"user": USER},
        event("third"),
        event("fourth", user={"userID": "u", "country": "us"}),
        event("fifth"),
    ]
    result = process(body(*events))
    assert result.event_count == 5
    assert [value_of(r)["eventName"] for r in result.records] == ["first", "third", "fifth"]
    assert [(d.reason, d.index) for d in result.dead_letters] == [
        ("invalid_event", 1),
        ("invalid_event", 3),
    ]


def test_invalid_event_names_the_field_path_under_the_request() -> None:
    events = [event(), event(), event(), event(user={"userID": "u", "country": "usa"})]
    [letter] = [value_of(d) for d in process(body(*events)).dead_letters]
    assert letter["reason"] == "invalid_event"
    assert letter["index"] == 3
    assert "`$.events[3].user.country`" in letter["error"]


@pytest.mark.parametrize(
    ("fields", "path"),
    [
        ({"eventName": ""}, "$.events[0].eventName"),
        ({"eventName": "e" * 257}, "$.events[0].eventName"),
        ({"eventName": 7}, "$.events[0].eventName"),
        ({"user": {"userID": "u", "country": "us"}}, "$.events[0].user.country"),
        ({"user": {"userID": "u", "country": "USA"}}, "$.events[0].user.country"),
        ({"user": {"userID": "u", "email": "not an email"}}, "$.events[0].user.email"),
        ({"user": {"userID": ""}}, "$.events[0].user.userID"),
        ({"user": {"userID": 42}}, "$.events[0].user.userID"),
        ({"user": {"customIDs": {"stableID": 5}}}, "$.events[0].user.customIDs[...]"),
        ({"user": {"userID": "u", "custom": []}}, "$.events[0].user.custom"),
        ({"user": "user-1"}, "$.events[0].user"),
        ({"value": True}, "$.events[0].value"),
        ({"value": {"amount": 3}}, "$.events[0].value"),
        ({"value": [1]}, "$.events[0].value"),
        ({"metadata": ["a"]}, "$.events[0].metadata"),
        ({"statsigMetadata": "js"}, "$.events[0].statsigMetadata"),
        ({"secondaryExposures": {"gate": "g"}}, "$.events[0].secondaryExposures"),
        ({"timeUUID": 5}, "$.events[0].timeUUID"),
    ],
    ids=lambda value: value if isinstance(value, str) else None,
)
def test_broken_field_is_an_invalid_event_at_its_path(fields: dict[str, Any], path: str) -> None:
    letter = rejected(event(**fields))
    assert letter["reason"] == "invalid_event"
    assert f"`{path}`" in letter["error"]


def test_event_without_event_name_is_an_invalid_event() -> None:
    letter = rejected({"user": USER, "time": 1})
    assert letter["reason"] == "invalid_event"
    assert "eventName" in letter["error"]
    assert "$.events[0]" in letter["error"]


@pytest.mark.parametrize("item", [42, "page_view", None, [event()]])
def test_event_that_is_not_an_object_is_an_invalid_event(item: Any) -> None:
    letter = rejected(item)
    assert letter["reason"] == "invalid_event"
    assert "`$.events[0]`" in letter["error"]
    assert letter["event"] == item


@pytest.mark.parametrize(
    "value", [b"1e400", b"-1e400", b"1" + b"0" * 400], ids=["float", "negative-float", "integer"]
)
def test_value_beyond_the_range_of_a_number_is_an_invalid_event(value: bytes) -> None:
    data = b'{"events": [{"eventName": "e", "user": {"userID": "u"}, "value": %s}]}' % value
    result = process(data)
    assert result.records == []
    [letter] = [value_of(d) for d in result.dead_letters]
    assert letter["reason"] == "invalid_event"
    assert "`$.events[0].value`" in letter["error"]
    assert letter["event"]["eventName"] == "e", "the original event is kept for replay"


def test_out_of_range_number_in_metadata_is_an_invalid_event_not_a_crash() -> None:
    data = b'{"events": [{"eventName": "e", "user": {"userID": "u"}, "metadata": {"n": 1e999}}]}'
    [letter] = [value_of(d) for d in process(data).dead_letters]
    assert letter["reason"] == "invalid_event"
    assert "$.events[0].metadata" in letter["error"]


def test_event_name_of_256_characters_is_accepted() -> None:
    assert accepted(event("e" * 256))["eventName"] == "e" * 256


def test_unknown_event_fields_are_not_rejected() -> None:
    record = accepted(event(sessionReplay={"on": True}, unknownNumber=3))
    assert record["eventName"] == "page_view"

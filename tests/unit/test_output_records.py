"""DESIGN §4: the value of a per-type topic message, seed 003's integration record with exact
field names, plus the skew facts of DESIGN §3."""

from __future__ import annotations

from typing import Any

import pytest
from raw_messages import (
    ABSENT,
    EVENT_TIME,
    RECORD_TIMESTAMP,
    USER,
    accepted,
    body,
    event,
    only_record,
    process,
    value_of,
)

COMMON_FIELDS = {
    "eventName",
    "user",
    "userID",
    "timestamp",
    "value",
    "metadata",
    "statsigMetadata",
    "timeUUID",
    "clientTimestamp",
    "receivedAt",
    "clockSkewMs",
    "timestampClamped",
}
SECONDARY = [{"gate": "holdout", "gateValue": "true", "ruleID": "rule-1"}]


@pytest.mark.parametrize("name", ["page_view", "statsig::diagnostics", "statsig::config_change"])
def test_non_exposure_record_has_exactly_the_contract_fields(name: str) -> None:
    assert set(accepted(event(name))) == COMMON_FIELDS


def test_exposure_record_adds_unit_id_and_secondary_exposures_when_sent() -> None:
    sent = accepted(event("statsig::gate_exposure", secondaryExposures=SECONDARY))
    unsent = accepted(event("statsig::gate_exposure"))
    assert set(sent) == COMMON_FIELDS | {"unitID", "secondaryExposures"}
    assert sent["secondaryExposures"] == SECONDARY
    assert set(unsent) == COMMON_FIELDS | {"unitID"}


def test_secondary_exposures_are_only_written_on_exposures() -> None:
    assert "secondaryExposures" not in accepted(event("page_view", secondaryExposures=SECONDARY))


def test_record_carries_the_event_as_sent_on_the_server_clock() -> None:
    sent = RECORD_TIMESTAMP - 2_000
    record = accepted(
        event("add_to_cart", value="books", metadata={"page": "home"}, time=EVENT_TIME),
        headers={"statsig-client-time": str(sent)},
    )
    assert record == {
        "eventName": "add_to_cart",
        "user": USER,
        "userID": USER["userID"],
        "timestamp": EVENT_TIME + RECORD_TIMESTAMP - sent,
        "value": "books",
        "metadata": {"page": "home"},
        "statsigMetadata": {},
        "timeUUID": record["timeUUID"],
        "clientTimestamp": EVENT_TIME,
        "receivedAt": RECORD_TIMESTAMP,
        "clockSkewMs": RECORD_TIMESTAMP - sent,
        "timestampClamped": False,
    }


def test_value_is_an_empty_string_when_absent() -> None:
    assert accepted(event(value=ABSENT))["value"] == ""
    assert accepted(event(value=None))["value"] == ""


@pytest.mark.parametrize(
    ("value", "text", "number"),
    [("books", "books", None), ("3", "3", None), (3, "3", 3.0), (-2.5, "-2.5", -2.5)],
)
def test_value_is_a_string_and_a_numeric_value_is_its_json_text(
    value: Any, text: str, number: float | None
) -> None:
    record = only_record(process(body(event(value=value))))
    assert value_of(record)["value"] == text
    assert record.numeric_value == number


def test_metadata_values_are_strings_and_non_strings_are_their_json_text() -> None:
    metadata = {
        "text": "value_a",
        "int": 3,
        "float": 0.5,
        "bool": True,
        "null": None,
        "list": [1, "a"],
        "object": {"k": [True]},
    }
    assert accepted(event(metadata=metadata))["metadata"] == {
        "text": "value_a",
        "int": "3",
        "float": "0.5",
        "bool": "true",
        "null": "null",
        "list": '[1,"a"]',
        "object": '{"k":[true]}',
    }


def test_metadata_is_an_empty_object_when_absent() -> None:
    assert accepted(event(metadata=ABSENT))["metadata"] == {}


def test_event_statsig_metadata_is_laid_over_the_request_one() -> None:
    record = accepted(
        event(statsigMetadata={"sdkVersion": "4.21.0", "sessionID": "s-1"}),
        statsigMetadata={"sdkType": "js-client", "sdkVersion": "4.20.0"},
    )
    assert record["statsigMetadata"] == {
        "sdkType": "js-client",
        "sdkVersion": "4.21.0",
        "sessionID": "s-1",
    }


def test_sdk_headers_stand_in_for_sdk_metadata_the_body_does_not_carry() -> None:
    headers = {"statsig-sdk-type": "py-server", "statsig-sdk-version": "0.9.0"}
    record = accepted(event(), headers=headers)
    assert record["statsigMetadata"] == {"sdkType": "py-server", "sdkVersion": "0.9.0"}

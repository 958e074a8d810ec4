"""DESIGN §3, Required: whose event it is (user and unit id), and DESIGN §4: the Kafka key."""

from __future__ import annotations

from typing import Any

import pytest
from raw_messages import (
    ABSENT,
    accepted,
    body,
    event,
    only_record,
    process,
    rejected,
    value_of,
)

from processor import EventType

REQUEST_USER = {"userID": "shared-user", "country": "US", "custom": {"plan": "pro"}}


def test_event_user_overrides_the_request_user_as_a_whole() -> None:
    own = {"userID": "own-user", "locale": "fr_FR"}
    record = accepted(event(user=own), user=REQUEST_USER)
    assert record["user"] == own
    assert record["userID"] == "own-user"


def test_request_user_is_used_for_events_without_their_own() -> None:
    record = accepted(event(user=ABSENT), user=REQUEST_USER)
    assert record["user"] == REQUEST_USER
    assert record["userID"] == "shared-user"


def test_broken_request_user_fails_only_the_events_relying_on_it() -> None:
    broken = {"userID": "shared-user", "country": "usa"}
    result = process(body(event(user={"userID": "own"}), event(user=ABSENT), user=broken))
    assert [value_of(r)["userID"] for r in result.records] == ["own"]
    [letter] = [value_of(d) for d in result.dead_letters]
    assert letter["reason"] == "invalid_event"
    assert letter["index"] == 1
    assert "$.user.country" in letter["error"]


@pytest.mark.parametrize("request_user", [ABSENT, None], ids=["absent", "null"])
@pytest.mark.parametrize("name", ["page_view", "statsig::gate_exposure", "statsig::config_change"])
def test_event_without_a_user_anywhere_is_missing_user(request_user: Any, name: str) -> None:
    letter = rejected(event(name, user=ABSENT), user=request_user)
    assert letter["reason"] == "missing_user"
    assert "$.events[0]" in letter["error"]


@pytest.mark.parametrize("request_user", [ABSENT, None], ids=["absent", "null"])
def test_sdk_diagnostic_event_without_any_user_is_kept_with_an_empty_user(
    request_user: Any,
) -> None:
    record = accepted(event("statsig::diagnostics", user=ABSENT), user=request_user)
    assert record["user"] == {}
    assert record["userID"] is None


def test_unit_id_is_the_user_id_first() -> None:
    user = {"userID": "u-1", "customIDs": {"stableID": "s-1"}}
    result = process(body(event("statsig::gate_exposure", user=user)))
    record = only_record(result)
    assert record.key == b"u-1"
    assert value_of(record)["unitID"] == "userID"


@pytest.mark.parametrize(
    ("custom_ids", "unit"),
    [
        ({"companyID": "c-1", "stableID": "s-1"}, ("stableID", "s-1")),
        ({"companyID": "c-1", "deviceID": "d-1"}, ("companyID", "c-1")),
        ({"stableID": "", "deviceID": "d-1"}, ("deviceID", "d-1")),
    ],
    ids=["stableID-first", "first-in-order", "empty-skipped"],
)
def test_without_user_id_the_unit_id_is_a_custom_id_stable_id_first(
    custom_ids: dict[str, str], unit: tuple[str, str]
) -> None:
    result = process(body(event("statsig::gate_exposure", user={"customIDs": custom_ids})))
    record = only_record(result)
    assert (value_of(record)["unitID"], record.key) == (unit[0], unit[1].encode())


@pytest.mark.parametrize("where", ["request", "event"])
def test_without_user_or_custom_ids_the_unit_id_is_the_sdk_stable_id(where: str) -> None:
    metadata = {"stableID": "device-7"}
    if where == "request":
        data = body(event("statsig::config_exposure", user={}), statsigMetadata=metadata)
    else:
        data = body(event("statsig::config_exposure", user={}, statsigMetadata=metadata))
    record = only_record(process(data))
    assert record.key == b"device-7"
    assert value_of(record)["unitID"] == "stableID"


@pytest.mark.parametrize("name", ["page_view", "statsig::experiment_exposure"])
def test_exposure_or_custom_event_without_unit_id_is_missing_unit_id(name: str) -> None:
    user = {"email": "someone@example.com", "customIDs": {"stableID": ""}}
    letter = rejected(event(name, user=user))
    assert letter["reason"] == "missing_unit_id"
    assert "$.events[0].user" in letter["error"]


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("statsig::diagnostics", EventType.DIAGNOSTIC),
        ("statsig::config_change", EventType.CONFIG_CHANGE),
    ],
)
def test_diagnostic_and_config_change_events_may_have_no_unit_id(
    name: str, kind: EventType
) -> None:
    record = only_record(process(body(event(name, user={"email": "ops@example.com"}))))
    assert record.type is kind
    assert record.key is None
    assert value_of(record)["userID"] is None


@pytest.mark.parametrize(
    "name",
    ["page_view", "statsig::layer_exposure", "statsig::diagnostics", "statsig::config_change"],
)
def test_kafka_key_is_the_unit_id_value_for_every_type(name: str) -> None:
    record = only_record(process(body(event(name, user={"customIDs": {"teamID": "team-9"}}))))
    assert record.key == b"team-9"
    assert record.unit_id == "team-9"


def test_unknown_user_fields_are_not_rejected_and_reach_the_output_user() -> None:
    user = {"userID": "u-1", "favouriteColour": "teal", "nested": {"a": [1, 2]}}
    assert accepted(event(user=user))["user"] == user
    assert accepted(event(user=ABSENT), user=user)["user"] == user

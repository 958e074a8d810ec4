"""The sample request generator: valid, realistic in mix and size, and deterministic."""

from __future__ import annotations

import random
import re
from collections import Counter
from typing import Any

import msgspec
import pytest

from processor import EventType, classify, process_request
from processor.samples import DEFAULT_NOW_MS, USER_POOL_SIZE, sample_request, sample_requests

NOW_MS = 1_750_000_000_000
HEADERS = {
    "statsig-client-time": str(NOW_MS - 1_500).encode(),
    "statsig-received-at": str(NOW_MS + 250).encode(),
    "statsig-key-id": b"key-samples",
}


@pytest.fixture(scope="module")
def bodies() -> list[bytes]:
    return sample_requests(400, events_per_request=50, seed=11, now_ms=NOW_MS)


@pytest.fixture(scope="module")
def events(bodies: list[bytes]) -> list[dict[str, Any]]:
    return [event for body in bodies for event in msgspec.json.decode(body)["events"]]


def test_every_sample_event_is_accepted_without_dead_letters(bodies: list[bytes]) -> None:
    for body in bodies:
        processed = process_request(body, HEADERS, NOW_MS + 300)
        assert processed.dead_letters == []
        assert processed.event_count == 50
        assert len(processed.records) == 50


def test_samples_are_accepted_without_any_headers() -> None:
    for body in sample_requests(50, seed=3):
        processed = process_request(body, {}, DEFAULT_NOW_MS)
        assert processed.dead_letters == []


def _share(counts: Counter[str], key: str, total: int) -> float:
    return counts[key] / total


def test_event_mix_follows_the_documented_proportions(events: list[dict[str, Any]]) -> None:
    counts: Counter[str] = Counter()
    for event in events:
        name = event["eventName"]
        kind = classify(name)
        counts["gate" if name == "statsig::gate_exposure" else kind] += 1
    total = len(events)
    assert total == 20_000
    assert _share(counts, "gate", total) == pytest.approx(0.55, abs=0.02)
    assert _share(counts, EventType.EXPOSURE, total) == pytest.approx(0.15, abs=0.02)
    assert _share(counts, EventType.CUSTOM, total) == pytest.approx(0.25, abs=0.02)
    assert _share(counts, EventType.DIAGNOSTIC, total) == pytest.approx(0.03, abs=0.01)
    assert _share(counts, EventType.CONFIG_CHANGE, total) == pytest.approx(0.02, abs=0.01)


def test_exposures_carry_the_metadata_of_their_kind(events: list[dict[str, Any]]) -> None:
    required = {
        "statsig::gate_exposure": {"gate", "gateValue", "ruleID", "reason"},
        "statsig::config_exposure": {"config", "ruleID", "reason"},
        "statsig::experiment_exposure": {"config", "ruleID", "experimentGroupName"},
        "statsig::layer_exposure": {"config", "ruleID", "allocatedExperiment"},
        "statsig::config_change": {"type", "name", "action"},
    }
    with_secondary = 0
    for event in events:
        fields = required.get(event["eventName"])
        if fields is not None:
            assert fields <= event["metadata"].keys()
        if event["eventName"] == "statsig::gate_exposure":
            assert event["metadata"]["gateValue"] in ("true", "false")
        with_secondary += "secondaryExposures" in event
    assert with_secondary > 0


def test_custom_events_have_numeric_and_string_values(events: list[dict[str, Any]]) -> None:
    purchases = [e["value"] for e in events if e["eventName"] == "purchase"]
    page_views = [e["value"] for e in events if e["eventName"] == "page_view"]
    assert purchases and all(isinstance(value, float) for value in purchases)
    assert page_views and all(isinstance(value, str) for value in page_views)


def test_an_event_is_about_300_bytes_on_average(bodies: list[bytes]) -> None:
    average = sum(map(len, bodies)) / (len(bodies) * 50)
    assert 260 <= average <= 350


def test_users_look_like_a_real_user_base(bodies: list[bytes]) -> None:
    users: list[dict[str, Any]] = []
    top_level = 0
    for body in bodies:
        request = msgspec.json.decode(body)
        if "user" in request:
            top_level += 1
            users.append(request["user"])
        users.extend(event["user"] for event in request["events"] if "user" in event)
    assert 0 < top_level < len(bodies)
    user_ids = {user["userID"] for user in users if "userID" in user}
    assert 1_000 <= len(user_ids) <= USER_POOL_SIZE + 20  # plus a few console users
    assert all(re.fullmatch(r"[A-Z]{2}", user["country"]) for user in users if "country" in user)
    assert any("privateAttributes" in user for user in users)
    assert any({"stableID", "companyID"} <= user.get("customIDs", {}).keys() for user in users)


def test_event_times_lie_a_little_before_now(events: list[dict[str, Any]]) -> None:
    times = [event["time"] for event in events]
    assert all(NOW_MS - 15_000 <= time <= NOW_MS for time in times)


def test_the_same_seed_gives_the_same_bytes() -> None:
    assert sample_requests(20, seed=5) == sample_requests(20, seed=5)
    assert sample_requests(20, seed=5) != sample_requests(20, seed=6)
    assert sample_request(random.Random(5)) == sample_requests(1, seed=5)[0]


def test_events_per_request_is_exact() -> None:
    for size in (1, 7, 120):
        body = sample_request(random.Random(size), events_per_request=size)
        assert len(msgspec.json.decode(body)["events"]) == size

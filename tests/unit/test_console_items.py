"""The Console's items are read from the records as built: they must say what the records'
JSON says (value, userID, metadata, the SDK type, the country), for every kind of event."""

from __future__ import annotations

import random

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from agents.app import app  # noqa: F401  (the app first: its modules import one another)
from agents.web.console import ConsoleItem, recent_items
from processor import DEFAULT_CONFIG, ProcessedRequest, process_request
from processor.samples import DEFAULT_NOW_MS, sample_request

SOURCE = "from-the-header"


def from_json(value: bytes, name: str, timestamp: int) -> ConsoleItem:
    record = orjson.loads(value)
    sdk_type = (record.get("statsigMetadata") or {}).get("sdkType")
    return ConsoleItem(
        timestamp=str(timestamp),
        name=name,
        source=sdk_type if isinstance(sdk_type, str) and sdk_type else SOURCE,
        value=record.get("value", ""),
        userID=record.get("userID") or "",
        metadata=record.get("metadata", {}),
        country=(record.get("enrichment") or {}).get("country"),
    )


def processed(seed: int) -> ProcessedRequest:
    body = sample_request(random.Random(seed), events_per_request=60, now_ms=DEFAULT_NOW_MS)
    return process_request(body, (), DEFAULT_NOW_MS, DEFAULT_CONFIG)


# No deadline: a first example took 346 ms on a busy machine, and 2 ms when run again.
@settings(deadline=None)
@given(st.integers(min_value=0, max_value=10_000))
def test_each_item_says_what_its_record_says(seed: int) -> None:
    result = processed(seed)
    headers = [("statsig-source", SOURCE.encode())]
    items = recent_items([(headers, result)], bound=1_000)
    expected: dict[str, list[ConsoleItem]] = {}
    for record in reversed(result.records):
        expected.setdefault(record.event_name, []).append(
            from_json(record.value, record.event_name, record.timestamp)
        )
    assert items == expected


def test_the_samples_hold_what_the_items_read() -> None:
    """The property above covers countries, SDK types and both forms of statsigMetadata."""
    records = [record for seed in range(20) for record in processed(seed).records]
    decoded = [orjson.loads(record.value) for record in records]
    assert any((r.get("enrichment") or {}).get("country") for r in decoded)
    assert any((r.get("statsigMetadata") or {}).get("sdkType") for r in decoded)
    assert any(isinstance(record.event.statsigMetadata, dict) for record in records)
    assert any(not isinstance(record.event.statsigMetadata, dict) for record in records)

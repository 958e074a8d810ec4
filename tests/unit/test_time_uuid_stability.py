"""DESIGN §3, timeUUID: consumers drop duplicates by timeUUID across worker upgrades, so the
UUID of an event must never change: neither its hash nor its bit layout."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor import process_request
from processor.timeuuid import request_digest, time_uuid

GREGORIAN_OFFSET = 0x01B21DD213814000
STRIDE = 0x9E3779B97F4A7C15 & ((1 << 61) - 1) | 1
DIGEST = request_digest("key-1", b'{"events":[]}')


def reference_time_uuid(timestamp_ms: int, digest: int, index: int) -> str:
    """The documented layout, built with the standard library: 60 bits of 100 ns ticks since
    1582 (the sub-millisecond ticks from the digest's high half), version 1, the RFC variant,
    61 bits of the digest's low half plus the index stride over clock sequence and node, and
    the node's multicast bit set."""
    ticks = (timestamp_ms * 10_000 + GREGORIAN_OFFSET + (digest >> 64) % 10_000) % (1 << 60)
    low = (digest + index * STRIDE) % (1 << 61)
    node = low % (1 << 40) + ((low >> 40) % (1 << 7) << 41) + (1 << 40)
    clock_seq = (low >> 47) | 0x8000
    return str(
        uuid.UUID(
            fields=(
                ticks % (1 << 32),
                (ticks >> 32) % (1 << 16),
                (ticks >> 48) | 0x1000,
                clock_seq >> 8,
                clock_seq & 0xFF,
                node,
            )
        )
    )


@settings(max_examples=500, deadline=None)
@given(
    timestamp=st.integers(0, 2**63 - 1),
    digest=st.integers(0, 2**128 - 1),
    index=st.integers(0, 10**6),
)
def test_time_uuid_follows_the_documented_layout(timestamp: int, digest: int, index: int) -> None:
    assert time_uuid(timestamp, digest, index) == reference_time_uuid(timestamp, digest, index)


def test_request_digest_is_unchanged() -> None:
    assert DIGEST == 0x2FE1A64031E1F092617A73F31E688D6


@pytest.mark.parametrize(
    ("timestamp", "index", "expected"),
    [
        (0, 0, "138166d9-1dd2-11b2-8c2f-4f3f31e688d6"),
        (1_700_000_000_000, 0, "04afe6d9-833b-11ee-8c2f-4f3f31e688d6"),
        (1_700_000_000_000, 1, "04afe6d9-833b-11ee-889e-41f8b13104eb"),
        (2**48, 49, "138166d9-1dd2-18c2-9d6b-e7c08f2848db"),
        (1_700_000_000_123, 10**6, "04c2ab89-833b-11ee-866c-bbcd7dbdf816"),
    ],
)
def test_time_uuid_values_are_unchanged(timestamp: int, index: int, expected: str) -> None:
    assert time_uuid(timestamp, DIGEST, index) == expected


def test_time_uuids_of_a_request_are_unchanged() -> None:
    body = (
        b'{"events":[{"eventName":"page_view","user":{"userID":"u-1"},"time":1699999940000},'
        b'{"eventName":"statsig::gate_exposure","user":{"userID":"u-1"}}]}'
    )
    headers = {
        "statsig-key-id": "key-1",
        "statsig-client-time": "1699999998500",
        "statsig-received-at": "1700000000250",
    }
    result = process_request(body, headers, 1_700_000_000_000)
    # R - C = 1,750 ms is a skew of 2,000 ms, rounded to whole seconds (DESIGN §3).
    assert [record.time_uuid for record in result.records] == [
        "e21db67c-833a-11ee-859f-87b908bfe77a",
        "04fc1abc-833b-11ee-820e-7b72880a638f",
    ]

"""process_request never raises on bad input, and nothing accepted is dropped without a trace:
every event of a readable request becomes a record or a dead letter (DESIGN §3, §4)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from raw_messages import gzipped, process, raw_deflated, value_of, zlib_deflated

from processor import DeadLetterRecord, OutputRecord, ProcessedRequest

ENCODERS = {
    "identity": lambda data: data,
    "gzip": gzipped,
    "deflate": zlib_deflated,
    "deflate-raw": raw_deflated,
}
NAMES = ["page_view", "statsig::gate_exposure", "statsig::config_change", "statsig::diagnostics"]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.sampled_from([10**400, -(2**64), 2**63, -1]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)
keys = st.sampled_from(["a", "gate", "ruleID", "stableID", "privateAttributes", ""])
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(keys, inner, max_size=3),
    max_leaves=8,
)

#: Users and events as SDKs send them, edge values included.
plausible_users = st.fixed_dictionaries(
    {"userID": st.sampled_from(["u-1", "u-2"])},
    optional={
        "email": st.just("a@example.com"),
        "country": st.sampled_from(["US", "GB"]),
        "customIDs": st.dictionaries(keys, st.text(max_size=4), max_size=2),
        "privateAttributes": json_values,
        "favouriteColour": json_values,
    },
)
plausible_events = st.fixed_dictionaries(
    {"eventName": st.sampled_from(NAMES)},
    optional={
        "user": plausible_users,
        "time": st.integers(0, 2**63 - 1) | st.integers(0, 10**18 - 1).map(str),
        # JSON numbers too, that neither an int64 nor a float can hold.
        "value": st.text(max_size=5) | st.integers() | st.floats(-1e9, 1e9) | st.just(10**400),
        "metadata": st.dictionaries(keys, json_values, max_size=3),
        "secondaryExposures": st.lists(st.fixed_dictionaries({"gate": keys}), max_size=2),
        "statsigMetadata": st.dictionaries(keys, json_values, max_size=2),
        "timeUUID": st.uuids().map(str),
    },
)
#: A plausible event with one field, or one field of its user, replaced by any JSON at all.
broken_events = st.builds(
    lambda e, field, value: {**e, field: value},
    plausible_events,
    st.sampled_from(["eventName", "user", "time", "value", "metadata", "secondaryExposures"]),
    json_values,
) | st.builds(
    lambda e, user, field, value: {**e, "user": {**user, field: value}},
    plausible_events,
    plausible_users,
    st.sampled_from(["userID", "email", "country", "customIDs", "privateAttributes"]),
    json_values,
)
events = st.one_of(plausible_events, plausible_events, broken_events, json_values)
users = st.one_of(plausible_users, plausible_users, json_values)
requests = st.one_of(
    st.fixed_dictionaries(
        {"events": st.lists(events, max_size=5)},
        optional={"user": users, "statsigMetadata": st.dictionaries(keys, scalars) | json_values},
    ),
    st.lists(events, max_size=5),
    json_values,
)


def assert_accounted_for(result: ProcessedRequest) -> None:
    """Either one dead letter for an unreadable request, or one outcome per event; and, either
    way, the request's identity, which the dedup window knows it by."""
    assert len(result.identity) == 16
    if result.event_count == 0:
        assert result.records == []
        assert [d.index for d in result.dead_letters] == [None]
    else:
        assert result.event_count == len(result.records) + len(result.dead_letters)
        indexes = [d.index for d in result.dead_letters]
        assert len(set(indexes)) == len(indexes)
        assert all(i is not None and 0 <= i < result.event_count for i in indexes)
    messages: list[OutputRecord | DeadLetterRecord] = [*result.records, *result.dead_letters]
    for message in messages:
        assert isinstance(value_of(message), dict)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300), encoding=st.sampled_from([*ENCODERS, "br", "GZIP"]))
def test_arbitrary_bytes_never_raise(data: bytes, encoding: str) -> None:
    assert_accounted_for(process(data, {"content-encoding": encoding}))


@settings(max_examples=300, deadline=None)
@given(
    request=requests,
    encoding=st.sampled_from(list(ENCODERS)),
    ascii_only=st.booleans(),
    bad_bytes=st.sampled_from([b""] * 5 + [b"\xff", b"\xc3", b"\xed\xa0\x80"]),
    spot=st.integers(min_value=0, max_value=40),
    headers=st.dictionaries(
        st.sampled_from(["statsig-client-time", "statsig-received-at", "statsig-key-id"]),
        st.text(max_size=20) | st.integers(min_value=-(10**20), max_value=10**20).map(str),
    ),
)
def test_arbitrary_json_never_raises_and_every_event_is_accounted_for(
    request: Any,
    encoding: str,
    ascii_only: bool,
    bad_bytes: bytes,
    spot: int,
    headers: dict[str, str],
) -> None:
    text = json.dumps(request, ensure_ascii=ascii_only).encode()
    if bad_bytes:  # not UTF-8, spliced in after a quote: mostly inside a string
        quotes = [at for at, byte in enumerate(text) if byte == ord('"')] or [0]
        at = quotes[spot % len(quotes)] + 1
        text = text[:at] + bad_bytes + text[at:]
    data = ENCODERS[encoding](text)
    result = process(data, {**headers, "content-encoding": encoding.removesuffix("-raw")})
    assert_accounted_for(result)
    if isinstance(request, dict) and isinstance(request.get("events"), list) and result.records:
        assert result.event_count == len(request["events"])

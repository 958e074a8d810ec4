"""DESIGN §5: per-batch partial aggregates by (metric, key, window start), and how they merge."""

from __future__ import annotations

import random
import zlib
from collections import Counter
from functools import reduce

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from processor import EventType, OutputRecord, process_request
from processor.metrics import (
    HLL_LG_K,
    Aggregates,
    Count,
    Distinct,
    Metric,
    ValueStats,
    WindowedPartial,
    WindowPolicy,
    aggregate,
    by_partition,
    combine,
    key_partition,
    merge,
    merge_partial,
    split_late,
    window_record,
    window_start,
)
from processor.records import EventRecord
from processor.samples import sample_request

MINUTE = 60_000
T0 = 1_700_000_040_000  # a window boundary of 60 s windows
# DataSketches' documented relative standard error of an HLL sketch: 1.04 / sqrt(2 ** lg_k).
HLL_RSE = 1.04 / (2**HLL_LG_K) ** 0.5


def record(
    name: str = "purchase",
    timestamp: int = T0,
    unit: str | None = "u1",
    value: float | None = None,
    exposure: tuple[str, str, str, str] | None = None,
) -> OutputRecord:
    kind = EventType.EXPOSURE if exposure else EventType.CUSTOM
    return OutputRecord(
        type=kind,
        key=unit.encode() if unit else None,
        value=b"{}",
        event_name=name,
        timestamp=timestamp,
        unit_id=unit,
        numeric_value=value,
        exposure=exposure,
        time_uuid="00000000-0000-1000-8000-000000000000",
        event=EventRecord(
            eventName=name,
            user=msgspec.Raw(b"{}"),
            userID=unit,
            timestamp=timestamp,
            value="",
            metadata={},
            statsigMetadata={},
            timeUUID="00000000-0000-1000-8000-000000000000",
            clientTimestamp=timestamp,
            receivedAt=timestamp,
            clockSkewMs=0,
            timestampClamped=False,
        ),
    )


def gate(name: str, value: str, unit: str, timestamp: int = T0) -> OutputRecord:
    return record(
        "statsig::gate_exposure", timestamp, unit, exposure=("gate", name, "rule-1", value)
    )


def comparable(aggregates: Aggregates) -> dict[object, object]:
    """Aggregates with each sketch replaced by the estimate of its registers alone.

    A sketch updated directly reports the HIP estimate, a union the composite one: both are
    within the error bounds, but differ. The union of a sketch with itself holds the same
    registers and always reports the composite estimate, so it compares sketches' contents.
    """
    return {
        key: (
            ("distinct", merge_partial(value, value).estimate())  # type: ignore[union-attr]
            if isinstance(value, Distinct)
            else value
        )
        for key, value in aggregates.items()
    }


def test_events_are_counted_per_name_in_the_window_of_their_corrected_time() -> None:
    records = [
        record("purchase", T0),
        record("purchase", T0 + MINUTE - 1),
        record("purchase", T0 + MINUTE),
        record("page_view", T0 + 5),
    ]
    counts = {
        (key, start): value
        for (metric, key, start), value in aggregate(records, MINUTE).items()
        if metric is Metric.EVENT_COUNTS
    }
    assert counts == {
        (("purchase",), T0): Count(2),
        (("purchase",), T0 + MINUTE): Count(1),
        (("page_view",), T0): Count(1),
    }


def test_exposures_are_counted_per_kind_name_rule_and_group() -> None:
    records = [
        gate("dark_mode", "true", "u1"),
        gate("dark_mode", "true", "u2"),
        gate("dark_mode", "false", "u3"),
        gate("beta_search", "true", "u1"),
    ]
    result = aggregate(records, MINUTE)
    exposures = {key: value for (m, key, _), value in result.items() if m is Metric.EXPOSURE_COUNTS}
    assert exposures == {
        ("gate", "dark_mode", "rule-1", "true"): Count(2),
        ("gate", "dark_mode", "rule-1", "false"): Count(1),
        ("gate", "beta_search", "rule-1", "true"): Count(1),
    }
    assert result[Metric.EVENT_COUNTS, ("statsig::gate_exposure",), T0] == Count(4)


def test_value_stats_take_numeric_values_only() -> None:
    records = [
        record(value=9.5),
        record(value=-2.0),
        record(value=None),  # a string value or none
        record(value=float("inf")),  # not JSON: left out of the sums
        record(value=4.0, timestamp=T0 + MINUTE),
    ]
    result = aggregate(records, MINUTE)
    assert result[Metric.VALUE_STATS, ("purchase",), T0] == ValueStats(2, 7.5, -2.0, 9.5)
    assert result[Metric.VALUE_STATS, ("purchase",), T0 + MINUTE] == ValueStats(1, 4.0, 4.0, 4.0)
    assert result[Metric.EVENT_COUNTS, ("purchase",), T0] == Count(4)


def test_distinct_units_count_each_unit_once_and_skip_events_without_one() -> None:
    records = [record(unit=f"user-{i % 40}") for i in range(200)] + [record(unit=None)]
    distinct = aggregate(records, MINUTE)[Metric.DISTINCT_UNITS, ("purchase",), T0]
    assert isinstance(distinct, Distinct)
    assert round(distinct.estimate()) == 40  # small sets are counted exactly
    lower, upper = distinct.bounds()
    assert lower <= 40 <= upper


def test_distinct_units_of_many_users_stay_within_the_sketch_error() -> None:
    users = 20_000
    records = [record(unit=f"user-{i}") for i in range(users)]
    distinct = aggregate(records, MINUTE)[Metric.DISTINCT_UNITS, ("purchase",), T0]
    assert isinstance(distinct, Distinct)
    assert abs(distinct.estimate() - users) <= 3 * HLL_RSE * users
    assert len(distinct.sketch) < 3_000  # HLL_4 at lg_k 12: about 2 KiB, whatever the count


def test_windows_before_1970_start_at_their_floor() -> None:
    assert window_start(-1, MINUTE) == -MINUTE
    assert window_start(0, MINUTE) == 0
    assert window_start(T0 + 59_999, MINUTE) == T0


def test_a_real_request_aggregates_to_its_record_counts() -> None:
    body = sample_request(random.Random(3), events_per_request=300, now_ms=T0)
    processed = process_request(body, [], T0 + 1_000)
    result = aggregate(processed.records, MINUTE)
    by_name = Counter(r.event_name for r in processed.records)
    counted: Counter[str] = Counter()
    for (metric, key, _), value in result.items():
        if metric is Metric.EVENT_COUNTS:
            assert isinstance(value, Count)
            counted[key[0]] += value.count
    assert counted == by_name
    exposures = sum(
        value.count
        for (metric, _, _), value in result.items()
        if metric is Metric.EXPOSURE_COUNTS and isinstance(value, Count)
    )
    assert exposures == sum(1 for r in processed.records if r.exposure is not None)


def test_merging_partials_of_different_kinds_is_an_error() -> None:
    with pytest.raises(TypeError):
        merge_partial(Count(1), ValueStats(1, 1.0, 1.0, 1.0))


# --- merging: the property that lets a batch be aggregated in memory -----------------------

names = st.sampled_from(["purchase", "page_view", "statsig::gate_exposure", "ünïcode"])
records_strategy = st.lists(
    st.builds(
        lambda name, offset, unit, value, group: record(
            name,
            T0 + offset,
            unit,
            value,
            ("gate", "g", "r", group) if name == "statsig::gate_exposure" else None,
        ),
        names,
        st.integers(-2 * MINUTE, 3 * MINUTE),
        st.one_of(st.none(), st.integers(0, 500).map(lambda i: f"u{i}")),
        st.one_of(st.none(), st.integers(-1000, 1000).map(float)),
        st.sampled_from(["true", "false"]),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(records_strategy, records_strategy)
def test_aggregate_of_a_concatenation_is_the_merge_of_the_aggregates(a, b) -> None:
    whole = aggregate(a + b, MINUTE)
    merged = merge(aggregate(a, MINUTE), aggregate(b, MINUTE))
    assert comparable(whole) == comparable(merged)


@settings(max_examples=40, deadline=None)
@given(records_strategy, records_strategy, records_strategy)
def test_merge_is_associative_and_commutative(a, b, c) -> None:
    x, y, z = (aggregate(part, MINUTE) for part in (a, b, c))
    left = merge(merge(x, y), z)
    right = merge(x, merge(y, z))
    assert comparable(left) == comparable(right)
    assert comparable(merge(x, y)) == comparable(merge(y, x))


@settings(max_examples=20, deadline=None)
@given(st.lists(records_strategy, min_size=1, max_size=5))
def test_merged_distinct_counts_stay_within_the_sketch_bounds(batches) -> None:
    merged = reduce(merge, (aggregate(batch, MINUTE) for batch in batches))
    truth: dict[tuple[str, int], set[str]] = {}
    for batch in batches:
        for r in batch:
            if r.unit_id is not None:
                start = window_start(r.timestamp, MINUTE)
                truth.setdefault((r.event_name, start), set()).add(r.unit_id)
    distinct = {
        (key[0], start): value
        for (metric, key, start), value in merged.items()
        if metric is Metric.DISTINCT_UNITS
    }
    assert set(distinct) == set(truth)
    for key, units in truth.items():
        sketch = distinct[key]
        assert isinstance(sketch, Distinct)
        lower, upper = sketch.bounds(3)
        assert lower <= len(units) <= upper


@settings(max_examples=40, deadline=None)
@given(st.lists(records_strategy, min_size=1, max_size=6))
def test_combining_many_messages_partials_merges_each_window_key_once(batches) -> None:
    messages = [
        [
            WindowedPartial(metric, key, start, value)
            for (metric, key, start), value in aggregate(batch, MINUTE).items()
        ]
        for batch in batches
    ]
    combined = combine(partial for message in messages for partial in message)
    slots = [(p.metric, p.key, p.start) for p in combined]
    assert len(slots) == len(set(slots))
    as_aggregates = {(p.metric, p.key, p.start): p.value for p in combined}
    assert comparable(as_aggregates) == comparable(
        aggregate([r for b in batches for r in b], MINUTE)
    )


def test_combining_partials_of_different_kinds_for_one_key_is_an_error() -> None:
    with pytest.raises(TypeError):
        combine(
            [
                WindowedPartial(Metric.EVENT_COUNTS, ("a",), T0, Count(1)),
                WindowedPartial(Metric.EVENT_COUNTS, ("a",), T0, ValueStats(1, 1.0, 1.0, 1.0)),
            ]
        )


# --- partitions: every key is owned by exactly one partition --------------------------------


def test_key_partition_is_a_crc32_of_the_key_and_not_the_salted_hash() -> None:
    assert key_partition(("purchase",), 4) == zlib.crc32(b"purchase") % 4
    exposure = ("gate", "dark_mode", "rule-1", "true")
    assert key_partition(exposure, 7) == zlib.crc32(b"gate\x1fdark_mode\x1frule-1\x1ftrue") % 7


def test_all_metrics_and_windows_of_a_key_go_to_one_partition() -> None:
    records = [record(f"event-{i % 13}", T0 + i * 7_000, f"u{i}", float(i)) for i in range(100)]
    records += [gate(f"gate-{i}", "true", "u1") for i in range(10)]
    grouped = by_partition(aggregate(records, MINUTE), 4)
    owners: dict[tuple[str, ...], set[int]] = {}
    for partition, partials in grouped.items():
        for partial in partials:
            assert key_partition(partial.key, 4) == partition
            owners.setdefault(partial.key, set()).add(partition)
    assert all(len(partitions) == 1 for partitions in owners.values())
    assert sum(len(p) for p in grouped.values()) == len(aggregate(records, MINUTE))


def test_windowed_partials_survive_msgpack_and_json() -> None:
    partials = [
        WindowedPartial(m, k, s, v)
        for (m, k, s), v in aggregate([record(value=2.5), gate("g", "true", "u9")], MINUTE).items()
    ]
    for codec in (msgspec.msgpack, msgspec.json):
        decoded = codec.decode(codec.encode(partials), type=list[WindowedPartial])
        assert decoded == partials


# --- windows close by the wall clock; late events are counted --------------------------------

POLICY = WindowPolicy(size_ms=MINUTE, grace_ms=30_000, retention_ms=3_600_000)


def test_a_window_closes_once_the_clock_passes_its_end_plus_grace() -> None:
    end = T0 + MINUTE
    assert POLICY.open_from(end + 30_000 - 1) == T0  # still open
    assert POLICY.open_from(end + 30_000) == T0 + MINUTE  # closed
    assert POLICY.open_from(end + 30_000 + MINUTE) == T0 + 2 * MINUTE


def test_a_window_is_forgotten_after_its_retention() -> None:
    assert not POLICY.expired(T0, T0 + MINUTE + 3_600_000 - 1)
    assert POLICY.expired(T0, T0 + MINUTE + 3_600_000)


def test_grace_longer_than_retention_is_refused() -> None:
    with pytest.raises(ValueError):
        WindowPolicy(size_ms=MINUTE, grace_ms=10_000, retention_ms=5_000)
    with pytest.raises(ValueError):
        WindowPolicy(size_ms=0, grace_ms=0, retention_ms=0)


def test_partials_of_closed_windows_become_late_event_counts() -> None:
    records = [record("purchase", T0, "u1", 1.0), record("purchase", T0 + MINUTE, "u2")]
    records += [gate("g", "true", "u3", T0)]
    partials = [WindowedPartial(m, k, s, v) for (m, k, s), v in aggregate(records, MINUTE).items()]
    arrival = T0 + 10 * MINUTE
    accepted, late = split_late(partials, open_from=T0 + MINUTE, arrival_start=arrival)
    assert {(p.metric, p.start) for p in accepted} == {
        (Metric.EVENT_COUNTS, T0 + MINUTE),
        (Metric.DISTINCT_UNITS, T0 + MINUTE),
    }
    assert sorted(late, key=lambda p: p.key) == [
        WindowedPartial(Metric.LATE_EVENTS, ("purchase",), arrival, Count(1)),
        WindowedPartial(Metric.LATE_EVENTS, ("statsig::gate_exposure",), arrival, Count(1)),
    ]


def test_window_records_name_their_key_parts_and_bounds() -> None:
    exposure = window_record(
        Metric.EXPOSURE_COUNTS, ("gate", "dark_mode", "rule-1", "true"), T0, MINUTE, Count(3)
    )
    assert msgspec.json.decode(msgspec.json.encode(exposure)) == {
        "metric": "exposure_counts",
        "key": {"kind": "gate", "name": "dark_mode", "ruleID": "rule-1", "group": "true"},
        "windowStart": T0,
        "windowEnd": T0 + MINUTE,
        "value": {"count": 3},
    }
    sketch = aggregate([record(unit="a"), record(unit="b")], MINUTE)[
        Metric.DISTINCT_UNITS, ("purchase",), T0
    ]
    distinct = window_record(
        Metric.DISTINCT_UNITS, ("purchase",), T0, MINUTE, sketch, with_sketch=True
    )
    assert distinct.value["distinct"] == 2
    assert distinct.value["lowerBound"] <= 2 <= distinct.value["upperBound"]
    assert "sketch" in distinct.value

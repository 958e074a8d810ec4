"""Windowed metrics of accepted records: partial aggregates that merge.

A batch of records becomes a mapping ``(metric, key, window start) -> partial``. Partials of the
same metric merge associatively and commutatively, so ``aggregate(a + b)`` holds what
``merge(aggregate(a), aggregate(b))`` holds: a worker can aggregate a whole batch in memory and
write each touched key once. Windows are tumbling, over the corrected event time, in ms.

Metrics and their keys (:data:`KEY_FIELDS`):

- ``event_counts``: eventName -> :class:`Count`
- ``exposure_counts``: (kind, gate/config/experiment/layer name, ruleID, group or gate value)
  -> :class:`Count`
- ``distinct_units``: eventName -> :class:`Distinct`, an Apache DataSketches HLL sketch of the
  unit ids (mergeable; relative standard error about 1.6 % at ``lg_k`` 12)
- ``value_stats``: eventName -> :class:`ValueStats` of the events' numeric values
- ``late_events``: eventName -> :class:`Count` of events whose window had closed, in the window
  of the time they were seen (see :meth:`WindowPolicy.open_from`)

Pure: no Faust, no I/O, no clock; callers pass ``now``.
"""

from __future__ import annotations

import base64
import math
import zlib
from collections.abc import Iterable, Mapping
from enum import StrEnum
from functools import reduce
from typing import Any

import msgspec
from datasketches import hll_sketch, hll_union, tgt_hll_type  # type: ignore[import-untyped]

from processor.records import ExposureKey, OutputRecord

HLL_LG_K = 12
"""log2 of the HLL sketch's register count: 4096 registers, relative standard error ~1.6 %."""
BOUND_STD_DEVS = 2
"""Width of the distinct-count bounds reported with each estimate (2 standard deviations: ~95 %)."""
_STORED_HLL = tgt_hll_type.HLL_4  # the most compact serialisation (~2 KiB at lg_k 12)
_UPDATE_HLL = tgt_hll_type.HLL_8  # the fastest to update while a batch is aggregated


class Metric(StrEnum):
    EVENT_COUNTS = "event_counts"
    EXPOSURE_COUNTS = "exposure_counts"
    DISTINCT_UNITS = "distinct_units"
    VALUE_STATS = "value_stats"
    LATE_EVENTS = "late_events"


KEY_FIELDS: dict[Metric, tuple[str, ...]] = {
    Metric.EVENT_COUNTS: ("eventName",),
    Metric.EXPOSURE_COUNTS: ("kind", "name", "ruleID", "group"),
    Metric.DISTINCT_UNITS: ("eventName",),
    Metric.VALUE_STATS: ("eventName",),
    Metric.LATE_EVENTS: ("eventName",),
}
"""The names of each metric's key parts, as the HTTP filters and window records spell them."""

MetricKey = tuple[str, ...]
WindowKey = tuple[Metric, MetricKey, int]
"""(metric, key, window start in ms)."""


class Count(msgspec.Struct, frozen=True, tag="count"):
    count: int


class ValueStats(msgspec.Struct, frozen=True, tag="stats"):
    """count, sum, min and max of finite numeric values."""

    count: int
    sum: float
    min: float
    max: float


class Distinct(msgspec.Struct, frozen=True, tag="distinct"):
    """Distinct unit ids: a compact-serialised DataSketches HLL sketch."""

    sketch: bytes

    def estimate(self) -> float:
        return float(hll_sketch.deserialize(self.sketch).get_estimate())

    def bounds(self, std_devs: int = BOUND_STD_DEVS) -> tuple[float, float]:
        sketch = hll_sketch.deserialize(self.sketch)
        return float(sketch.get_lower_bound(std_devs)), float(sketch.get_upper_bound(std_devs))


Partial = Count | ValueStats | Distinct
Aggregates = dict[WindowKey, Partial]


class WindowedPartial(msgspec.Struct, frozen=True, array_like=True):
    """One entry of :data:`Aggregates`, in a form that serialises (msgpack or JSON)."""

    metric: Metric
    key: MetricKey
    start: int
    value: Partial


def _union(sketches: Iterable[Any]) -> bytes:
    union = hll_union(HLL_LG_K)
    for sketch in sketches:
        union.update(sketch)
    return bytes(union.get_result(_STORED_HLL).serialize_compact())


def merge_partial(a: Partial, b: Partial) -> Partial:
    """The partial of both inputs' events; both must be of the same kind."""
    if isinstance(a, Count) and isinstance(b, Count):
        return Count(a.count + b.count)
    if isinstance(a, ValueStats) and isinstance(b, ValueStats):
        return ValueStats(a.count + b.count, a.sum + b.sum, min(a.min, b.min), max(a.max, b.max))
    if isinstance(a, Distinct) and isinstance(b, Distinct):
        return Distinct(_union(hll_sketch.deserialize(s) for s in (a.sketch, b.sketch)))
    raise TypeError(f"cannot merge {type(a).__name__} with {type(b).__name__}")


def _merge_all(values: list[Partial]) -> Partial:
    sketches = [value.sketch for value in values if isinstance(value, Distinct)]
    if len(values) > 1 and len(sketches) == len(values):
        # One union of all the sketches, not one union (and serialisation) per pair.
        return Distinct(_union(hll_sketch.deserialize(sketch) for sketch in sketches))
    return reduce(merge_partial, values)


def combine(partials: Iterable[WindowedPartial]) -> list[WindowedPartial]:
    """The partials with each (metric, key, window) once, merged: a consumer that takes many
    partials messages at a time then writes each table key once, not once per message."""
    slots: dict[WindowKey, list[Partial]] = {}
    for partial in partials:
        slots.setdefault((partial.metric, partial.key, partial.start), []).append(partial.value)
    return [
        WindowedPartial(metric, key, start, _merge_all(values))
        for (metric, key, start), values in slots.items()
    ]


def merge(a: Mapping[WindowKey, Partial], b: Mapping[WindowKey, Partial]) -> Aggregates:
    """A new mapping with every key of both; the partials of shared keys merged."""
    merged = dict(a)
    for key, partial in b.items():
        held = merged.get(key)
        merged[key] = partial if held is None else merge_partial(held, partial)
    return merged


def window_start(timestamp_ms: int, size_ms: int) -> int:
    """Start of the tumbling window holding the timestamp (floor, also before 1970)."""
    return timestamp_ms - timestamp_ms % size_ms


def aggregate(records: Iterable[OutputRecord], size_ms: int) -> Aggregates:
    """The partial aggregates of a batch of records, windowed by their corrected timestamps."""
    counts: dict[tuple[str, int], int] = {}
    exposures: dict[tuple[ExposureKey, int], int] = {}
    sketches: dict[tuple[str, int], Any] = {}
    stats: dict[tuple[str, int], tuple[int, float, float, float]] = {}
    for record in records:
        timestamp = record.timestamp
        named = (record.event_name, timestamp - timestamp % size_ms)
        counts[named] = counts.get(named, 0) + 1
        if record.unit_id is not None:
            sketch = sketches.get(named)
            if sketch is None:
                sketch = sketches[named] = hll_sketch(HLL_LG_K, _UPDATE_HLL)
            sketch.update(record.unit_id)
        value = record.numeric_value
        if value is not None and math.isfinite(value):
            held = stats.get(named)
            stats[named] = (
                (1, value, value, value)
                if held is None
                else (held[0] + 1, held[1] + value, min(held[2], value), max(held[3], value))
            )
        if record.exposure is not None:
            exposed = (record.exposure, named[1])
            exposures[exposed] = exposures.get(exposed, 0) + 1

    result: Aggregates = {}
    for (name, start), count in counts.items():
        result[Metric.EVENT_COUNTS, (name,), start] = Count(count)
    for (exposure, start), count in exposures.items():
        result[Metric.EXPOSURE_COUNTS, exposure, start] = Count(count)
    for (name, start), sketch in sketches.items():
        result[Metric.DISTINCT_UNITS, (name,), start] = Distinct(_union([sketch]))
    for (name, start), (count, total, low, high) in stats.items():
        result[Metric.VALUE_STATS, (name,), start] = ValueStats(count, total, low, high)
    return result


def key_partition(key: MetricKey, partitions: int) -> int:
    """The partition that owns every window of a metric key: a CRC-32 of its parts.

    Stable across processes and Python versions (unlike the salted ``hash()``). It depends on
    the key alone, not the metric, so all metrics of one event name share a partition.
    """
    return zlib.crc32("\x1f".join(key).encode("utf-8", "surrogatepass")) % partitions


def by_partition(
    aggregates: Mapping[WindowKey, Partial], partitions: int
) -> dict[int, list[WindowedPartial]]:
    """The aggregates grouped by the partition that owns their key."""
    grouped: dict[int, list[WindowedPartial]] = {}
    owner: dict[MetricKey, int] = {}
    for (metric, key, start), partial in aggregates.items():
        partition = owner.get(key)
        if partition is None:
            partition = owner[key] = key_partition(key, partitions)
        grouped.setdefault(partition, []).append(WindowedPartial(metric, key, start, partial))
    return grouped


class WindowPolicy(msgspec.Struct, frozen=True):
    """When a window closes and when it is forgotten, by the wall clock.

    A window ``[start, start + size)`` accepts events until ``start + size + grace``; then it
    closes: its values are final and an event that still falls in it is late. Its values stay
    readable until ``start + size + retention``.
    """

    size_ms: int
    grace_ms: int
    retention_ms: int

    def __post_init__(self) -> None:
        if self.size_ms <= 0:
            raise ValueError(f"window size must be positive, not {self.size_ms} ms")
        if not 0 <= self.grace_ms <= self.retention_ms:
            raise ValueError(
                f"need 0 <= grace ({self.grace_ms} ms) <= retention ({self.retention_ms} ms)"
            )

    def start(self, timestamp_ms: int) -> int:
        return window_start(timestamp_ms, self.size_ms)

    def open_from(self, now_ms: int) -> int:
        """Start of the oldest window still open at ``now_ms``: earlier windows are closed."""
        # open  <=>  start + size + grace > now  <=>  start > now - size - grace
        last_closed_end = now_ms - self.size_ms - self.grace_ms
        return window_start(last_closed_end, self.size_ms) + self.size_ms

    def expired(self, start_ms: int, now_ms: int) -> bool:
        """Whether the window's retention has passed: its values may be forgotten."""
        return start_ms + self.size_ms + self.retention_ms <= now_ms


def split_late(
    partials: Iterable[WindowedPartial], open_from: int, arrival_start: int
) -> tuple[list[WindowedPartial], list[WindowedPartial]]:
    """(partials of open windows, ``late_events`` counts for the closed ones).

    A late window's event count becomes a ``late_events`` count of its event name in the
    window ``arrival_start``; its other partials describe the same events and are dropped.
    """
    accepted: list[WindowedPartial] = []
    late: dict[MetricKey, int] = {}
    for partial in partials:
        if partial.start >= open_from:
            accepted.append(partial)
        elif partial.metric is Metric.EVENT_COUNTS and isinstance(partial.value, Count):
            late[partial.key] = late.get(partial.key, 0) + partial.value.count
    return accepted, [
        WindowedPartial(Metric.LATE_EVENTS, key, arrival_start, Count(count))
        for key, count in late.items()
    ]


def window_value(partial: Partial, *, with_sketch: bool = False) -> dict[str, Any]:
    """A partial as the JSON object that the HTTP views and the windows topic show."""
    if isinstance(partial, Count):
        return {"count": partial.count}
    if isinstance(partial, ValueStats):
        return {"count": partial.count, "sum": partial.sum, "min": partial.min, "max": partial.max}
    lower, upper = partial.bounds()
    value: dict[str, Any] = {
        "distinct": round(partial.estimate()),
        "lowerBound": lower,
        "upperBound": upper,
    }
    if with_sketch:
        value["sketch"] = base64.b64encode(partial.sketch).decode("ascii")
    return value


class WindowRecord(msgspec.Struct, frozen=True):
    """A window's values: a ``<prefix>metrics.windows`` record, or an HTTP read's item."""

    metric: str
    key: dict[str, str]
    windowStart: int
    windowEnd: int
    value: dict[str, Any]


def window_record(
    metric: Metric,
    key: MetricKey,
    start: int,
    size_ms: int,
    partial: Partial,
    *,
    with_sketch: bool = False,
) -> WindowRecord:
    return WindowRecord(
        metric=metric.value,
        key=dict(zip(KEY_FIELDS[metric], key, strict=True)),
        windowStart=start,
        windowEnd=start + size_ms,
        value=window_value(partial, with_sketch=with_sketch),
    )

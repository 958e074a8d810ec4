"""The event core alone: ``process_request`` against a bare msgspec round-trip of the same bodies.

The bare round-trip (decode a body to Python objects, encode each event back to bytes) is what
merely reading the JSON and writing one message per event costs; the ratio says how much the
core's work on top of it (validation, users, skew, timeUUID, output records) costs.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence

import msgspec

from bench import workload
from bench.section import Row, RunOptions
from bench.timing import measure_rates
from processor import process_request

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


def run_core(bodies: Sequence[bytes]) -> int:
    """Process every body; return how many dead letters came out (0 for valid samples)."""
    dead_letters = 0
    headers, timestamp = workload.HEADERS, workload.RECORD_TIMESTAMP_MS
    for body in bodies:
        dead_letters += len(process_request(body, headers, timestamp).dead_letters)
    return dead_letters


def run_bare(bodies: Sequence[bytes]) -> int:
    """Decode every body and encode each of its events back to JSON; return the bytes written."""
    written = 0
    for body in bodies:
        for event in _decode(body)["events"]:
            written += len(_encode(event))
    return written


def measure(options: RunOptions) -> list[Row]:
    bodies = workload.request_bodies()
    events = len(bodies) * workload.EVENTS_PER_REQUEST
    min_seconds, repeats = (0.6, 3) if options.quick else (1.5, 7)
    dead_letters = run_core(bodies)
    rates = measure_rates(
        {"core": lambda: run_core(bodies), "bare": lambda: run_bare(bodies)},
        events,
        min_seconds,
        repeats,
    )
    core, bare = rates["core"], rates["bare"]
    ratios = [c / b for c, b in zip(core.samples, bare.samples, strict=True)]
    return [
        Row("input bytes/event (avg)", sum(map(len, bodies)) / events, "B"),
        Row("input events/request", workload.EVENTS_PER_REQUEST, "events"),
        Row("dead letters in input", dead_letters, "events"),
        Row("core process_request, best", core.best, "events/s"),
        Row("core process_request, median", core.median, "events/s"),
        Row("bare msgspec round-trip, best", bare.best, "events/s"),
        Row("bare msgspec round-trip, median", bare.median, "events/s"),
        Row("core/bare, best/best", 100 * core.best / bare.best, "%"),
        Row("core/bare, median of paired repeats", 100 * statistics.median(ratios), "%"),
        Row("core time per request, median", 1e6 * workload.EVENTS_PER_REQUEST / core.median, "us"),
    ]

"""The event core alone: ``process_request`` against a bare msgspec round-trip of the same bodies.

The bare round-trip (decode a body to Python objects, encode each event back to bytes) is what
merely reading the JSON and writing one message per event costs; the ratio says how much the
core's work on top of it (validation, users, skew, timeUUID, output records) costs.

Then the enrichment's price: the web mix (every user with a public ip and a browser agent,
repeated as real users repeat) through the core with enrichment on, off, and on with
``IP_ANONYMIZE=truncate``, interleaved. The lookup caches are warm after the first pass, as
in a worker that has run a while; the cost of a first sight is in ``bench.stages``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from functools import partial

import msgspec

from bench import workload
from bench.section import Row, RunOptions
from bench.timing import measure_rates
from processor import DEFAULT_CONFIG, IpAnonymization, ProcessorConfig, process_request

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode


_ENRICHMENT_CONFIGS = {
    "on": DEFAULT_CONFIG,
    "off": ProcessorConfig(enrich=False),
    "on + truncate": ProcessorConfig(ip_anonymization=IpAnonymization.TRUNCATE),
}


def run_core(bodies: Sequence[bytes], config: ProcessorConfig = DEFAULT_CONFIG) -> int:
    """Process every body; return how many dead letters came out (0 for valid samples)."""
    dead_letters = 0
    headers, timestamp = workload.HEADERS, workload.RECORD_TIMESTAMP_MS
    for body in bodies:
        dead_letters += len(process_request(body, headers, timestamp, config).dead_letters)
    return dead_letters


def run_bare(bodies: Sequence[bytes]) -> int:
    """Decode every body and encode each of its events back to JSON; return the bytes written."""
    written = 0
    for body in bodies:
        for event in _decode(body)["events"]:
            written += len(_encode(event))
    return written


def _enrichment_rows(min_seconds: float, repeats: int) -> list[Row]:
    """Short repeats, many of them: the candidates alternate often, so a slow spell of a
    shared machine falls on all of them alike."""
    bodies = workload.request_bodies(web=True)
    events = len(bodies) * workload.EVENTS_PER_REQUEST
    rates = measure_rates(
        {name: partial(run_core, bodies, config) for name, config in _ENRICHMENT_CONFIGS.items()},
        events,
        min_seconds / 3,
        repeats * 3,
    )
    off = rates["off"]
    rows = [Row("web mix: dead letters in input", run_core(bodies), "events")]
    for name, rate in rates.items():
        rows.append(Row(f"web mix, enrichment {name}, best", rate.best, "events/s"))
        rows.append(Row(f"web mix, enrichment {name}, median", rate.median, "events/s"))
    for name in ("on", "on + truncate"):
        paired = [a / b for a, b in zip(rates[name].samples, off.samples, strict=True)]
        rows.append(
            Row(f"web mix, {name} / off, best/best", 100 * rates[name].best / off.best, "%")
        )
        rows.append(
            Row(
                f"web mix, {name} / off, median of paired repeats",
                100 * statistics.median(paired),
                "%",
            )
        )
    return rows


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
        *_enrichment_rows(min_seconds, repeats),
    ]

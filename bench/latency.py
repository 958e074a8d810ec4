"""Latency of one real worker at half its flat-out rate: request produced to record consumed.

The offered load is half the events/s the e2e section measured in this run (measured here
first when that section did not run). After a priming request, the same load runs untimed for
``WARMUP_SECONDS`` (a broker of the section's own just started: Apache Kafka's JVM compiles its
hot paths in its first half minute, when it took 0.6-1.2 cores against 0.2-0.3 after, and the
worker beside it fell behind), its output is read, and then requests are sent at that fixed
rate for a bounded time; a consumer in the bench reads the output topics as they fill. A
record's latency is its arrival at that consumer minus its request's send time (``receivedAt``,
see ``bench.load``); percentiles are over records, 50 per request. Records still missing a
grace period after the load stops are counted, not timed. The p50 drift says whether the worker
kept up: a backlog that builds during the run makes the late requests wait longer.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from aiokafka import AIOKafkaProducer

from bench import e2e, workload
from bench.broker import new_producer
from bench.load import (
    Arrivals,
    LoadedWorker,
    OutputClock,
    offer,
    outputs_per_request,
    prime,
    worker_on_own_broker,
)
from bench.section import Row, RunOptions
from bench.traffic import LiveBodies

GRACE_SECONDS = 20.0
WARMUP_SECONDS = 30.0


def seconds(options: RunOptions) -> float:
    return 3.0 if options.tiny else 10.0 if options.quick else 30.0


def warmup_seconds(options: RunOptions) -> float:
    return 0.0 if options.tiny else 10.0 if options.quick else WARMUP_SECONDS


def percentile(values: Sequence[float], share: float) -> float:
    """The nearest-rank percentile: the smallest value with ``share`` of the values at or below."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


async def _load(
    loaded: LoadedWorker,
    producer: AIOKafkaProducer,
    clock: OutputClock,
    bodies: LiveBodies,
    requests_per_second: float,
    seconds: float,
    first: int,
    arrived: Callable[[], float],
) -> tuple[int, float]:
    """Offer the load for ``seconds`` while reading the output, then read until its every
    output record has come (``arrived`` counts them), or for ``GRACE_SECONDS``. Returns the
    requests sent and the output records expected of them."""
    before = arrived()
    sending = asyncio.create_task(
        offer(producer, loaded.raw_topic, bodies, requests_per_second, seconds, first=first)
    )
    while not sending.done():
        await clock.read()
    sent = sending.result()
    expected = sent * outputs_per_request(bodies.current())
    deadline = time.monotonic() + GRACE_SECONDS
    while arrived() - before < expected and time.monotonic() < deadline:
        await clock.read()
    return sent, expected


async def _timed_run(
    loaded: LoadedWorker, requests_per_second: float, duration: float, warmup: float = 0.0
) -> tuple[int, float, OutputClock]:
    """Requests sent, output messages expected of them, and the clock of their arrivals."""
    bodies = LiveBodies()
    clock = OutputClock(loaded.bootstrap, loaded.output_topics)
    await clock.start()
    producer = new_producer(loaded.bootstrap)
    await producer.start()
    try:
        await prime(loaded, clock)
        warm = 0
        if warmup:
            warm, _ = await _load(
                loaded,
                producer,
                clock,
                bodies,
                requests_per_second,
                warmup,
                0,
                lambda: clock.arrivals.records,
            )
        clock.arrivals.since_ms = int(time.time() * 1000)
        sent, expected = await _load(
            loaded,
            producer,
            clock,
            bodies,
            requests_per_second,
            duration,
            warm,
            lambda: len(clock.arrivals.latencies_ms),
        )
        return sent, expected, clock
    finally:
        await producer.stop()
        await clock.stop()


def drift_ms(arrivals: Arrivals, duration: float) -> float:
    """p50 of the requests sent in the last third of the load minus that of the first third.

    About 0 when the worker keeps up; a backlog that builds up shows as a large positive drift.
    """
    third = 1000 * duration / 3
    first = [
        latency
        for sent, latency in zip(arrivals.sent_ms, arrivals.latencies_ms, strict=True)
        if sent < arrivals.since_ms + third
    ]
    last = [
        latency
        for sent, latency in zip(arrivals.sent_ms, arrivals.latencies_ms, strict=True)
        if sent >= arrivals.since_ms + 2 * third
    ]
    if not first or not last:
        return 0.0
    return percentile(last, 0.5) - percentile(first, 0.5)


@dataclass(frozen=True)
class Timed:
    """A worker fed for ``duration`` s: requests sent, outputs expected, and their arrivals."""

    sent: int
    expected: float
    arrivals: Arrivals
    duration: float

    @property
    def latencies_ms(self) -> list[float]:
        if not self.arrivals.latencies_ms:
            raise RuntimeError(f"no output record arrived of {self.sent} requests sent")
        return self.arrivals.latencies_ms


def timed(options: RunOptions, events_per_second: float, **overrides: str) -> Timed:
    """A worker of its own (its environment with ``overrides``) fed at ``events_per_second``,
    after as long a warm-up at that load."""
    requests_per_second = events_per_second / workload.EVENTS_PER_REQUEST
    duration = seconds(options)
    warmup = warmup_seconds(options)
    with worker_on_own_broker("latency", options.broker, **overrides) as loaded:
        sent, expected, clock = asyncio.run(
            _timed_run(loaded, requests_per_second, duration, warmup)
        )
    return Timed(sent, expected, clock.arrivals, duration)


def measure(options: RunOptions) -> list[Row]:
    events_per_second = e2e.worker_rate(options) / 2
    run = timed(options, events_per_second)
    sent, expected, duration = run.sent, run.expected, run.duration
    latencies = run.latencies_ms
    created = run.arrivals.created_latencies_ms
    return [
        Row("offered load (half the worker's e2e rate)", events_per_second, "events/s"),
        Row("sent", sent * workload.EVENTS_PER_REQUEST / duration, "events/s"),
        Row("load duration", duration, "s"),
        Row("records timed", len(latencies), "records"),
        Row(
            f"records not arrived {GRACE_SECONDS:.0f} s after the load",
            max(0, round(expected) - len(latencies)),
            "records",
        ),
        Row("produce -> consumed, p50", percentile(latencies, 0.50), "ms"),
        Row("produce -> consumed, p90", percentile(latencies, 0.90), "ms"),
        Row("produce -> consumed, p99", percentile(latencies, 0.99), "ms"),
        Row("produce -> consumed, max", max(latencies), "ms"),
        Row("produce -> worker send, p50", percentile(created, 0.50), "ms"),
        Row("produce -> worker send, p99", percentile(created, 0.99), "ms"),
        Row("p50 drift, last third - first third", drift_ms(run.arrivals, duration), "ms"),
    ]

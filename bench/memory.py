"""Resident memory of one real worker over a sustained run at half its flat-out rate.

Same load as the latency section (``bench.load``), with nobody reading the output. The worker's
RSS (``VmRSS`` of /proc) is sampled from the moment the load starts, after a priming request.
The slope is a least-squares fit of RSS over time, over the whole run and over its second half
(after allocator pools and client buffers have grown to their working size, a leak is what is
left). ``--soak MINUTES`` runs it that long and prints the samples as they come. The worker's
two bounded stores (the dedup window's identities, and the metric windows kept for
``METRICS_RETENTION_SECONDS``) are then sized to a fifth of the soak, the grace to half of
that. With the defaults (300 s, an hour) they would still be filling at the soak's end; sized
so, the second half's slope is a leak test.
"""

from __future__ import annotations

import asyncio
import sys
import time

from bench import e2e, workload
from bench.broker import new_producer
from bench.load import LoadedWorker, OutputClock, offer, prime, worker_on_own_broker
from bench.section import Row, RunOptions
from bench.traffic import LiveBodies
from bench.worker import rss_bytes

MIB = 1024 * 1024

Sample = tuple[float, float]
"""(seconds since the load started, RSS in MiB)"""


def seconds(options: RunOptions) -> float:
    if options.soak_minutes > 0:
        return 60 * options.soak_minutes
    return 4.0 if options.tiny else 15.0 if options.quick else 45.0


def soak_overrides(options: RunOptions) -> dict[str, str]:
    """The worker's settings for the run: in a soak, its bounded stores full by a fifth of it."""
    if options.soak_minutes <= 0:
        return {}
    bound = max(120, round(seconds(options) / 5))
    return {
        "DEDUP_WINDOW_SECONDS": str(bound),
        "METRICS_RETENTION_SECONDS": str(bound),
        "METRICS_GRACE_SECONDS": str(bound // 2),  # at most the retention
    }


def slope_per_minute(samples: list[Sample]) -> float:
    """Least-squares slope of RSS over time, in MiB per minute (0 with fewer than 2 samples)."""
    if len(samples) < 2:
        return 0.0
    mean_t = sum(t for t, _ in samples) / len(samples)
    mean_m = sum(m for _, m in samples) / len(samples)
    spread = sum((t - mean_t) ** 2 for t, _ in samples)
    if spread == 0:
        return 0.0
    return 60 * sum((t - mean_t) * (m - mean_m) for t, m in samples) / spread


async def _sample_under_load(
    loaded: LoadedWorker, requests_per_second: float, duration: float, print_every: float
) -> tuple[int, list[Sample]]:
    clock = OutputClock(loaded.bootstrap, loaded.output_topics)
    await clock.start()
    try:
        await prime(loaded, clock)
    finally:
        await clock.stop()
    producer = new_producer(loaded.bootstrap)
    await producer.start()
    try:
        interval = min(1.0, max(0.25, duration / 240))
        start = time.monotonic()
        sending = asyncio.create_task(
            offer(producer, loaded.raw_topic, LiveBodies(), requests_per_second, duration)
        )
        samples: list[Sample] = []
        printed_at = -print_every
        while not sending.done():
            elapsed = time.monotonic() - start
            samples.append((elapsed, rss_bytes(loaded.worker.pid) / MIB))
            if print_every and elapsed - printed_at >= print_every:
                printed_at = elapsed
                print(
                    f"memory: {elapsed:6.0f} s  RSS {samples[-1][1]:7.1f} MiB  "
                    f"slope so far {slope_per_minute(samples):+.2f} MiB/min",
                    file=sys.stderr,
                    flush=True,
                )
            await asyncio.sleep(interval)
        samples.append((time.monotonic() - start, rss_bytes(loaded.worker.pid) / MIB))
        return sending.result(), samples
    finally:
        await producer.stop()


def measure(options: RunOptions) -> list[Row]:
    events_per_second = e2e.worker_rate(options) / 2
    requests_per_second = events_per_second / workload.EVENTS_PER_REQUEST
    duration = seconds(options)
    print_every = 30.0 if options.soak_minutes > 0 else 0.0
    overrides = soak_overrides(options)
    with worker_on_own_broker("memory", options.broker, **overrides) as loaded:
        loaded.worker.check_alive()
        sent, samples = asyncio.run(
            _sample_under_load(loaded, requests_per_second, duration, print_every)
        )
        loaded.worker.check_alive()
    second_half = [sample for sample in samples if sample[0] >= duration / 2]
    rss = [megabytes for _, megabytes in samples]
    return [
        Row("offered load (half the worker's e2e rate)", events_per_second, "events/s"),
        Row("sent", sent * workload.EVENTS_PER_REQUEST / duration, "events/s"),
        Row("load duration", duration, "s"),
        *(Row(f"worker {name}", float(value), "s") for name, value in overrides.items()),
        Row("RSS samples", len(samples), "samples"),
        Row("worker RSS at load start", rss[0], "MiB"),
        Row("worker RSS at end", rss[-1], "MiB"),
        Row("worker RSS peak", max(rss), "MiB"),
        Row("worker RSS growth, end - start", rss[-1] - rss[0], "MiB"),
        Row("worker RSS slope, whole run", slope_per_minute(samples), "MiB/min"),
        Row("worker RSS slope, second half", slope_per_minute(second_half), "MiB/min"),
    ]

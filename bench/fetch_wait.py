"""What the fetch wait and the batch wait do to latency: long waits against the short defaults.

The latency section's measurement (``bench.latency``) at two loads, a light one and half the
worker's flat-out rate, each with long waits (Faust's own fetch wait, ``FETCH_MAX_WAIT_MS``
1500, and ``INGEST_BATCH_SECONDS`` 0.05) and with the defaults (``FETCH_MAX_WAIT_MS=20
INGEST_BATCH_SECONDS=0.01``), on the bench's broker. The embedded broker holds a fetch for
the whole wait even when records arrive; Apache Kafka answers as soon as they do, so there
only the batch wait should show.
"""

from __future__ import annotations

from bench import e2e
from bench.latency import percentile, timed
from bench.section import Row, RunOptions

LIGHT_EVENTS_PER_SECOND = 500.0
SETTINGS: dict[str, dict[str, str]] = {
    "long waits": {"FETCH_MAX_WAIT_MS": "1500", "INGEST_BATCH_SECONDS": "0.05"},
    "short waits": {"FETCH_MAX_WAIT_MS": "20", "INGEST_BATCH_SECONDS": "0.01"},
}


def measure(options: RunOptions) -> list[Row]:
    rows: list[Row] = []
    for load in (LIGHT_EVENTS_PER_SECOND, e2e.worker_rate(options) / 2):
        for name, overrides in SETTINGS.items():
            latencies = timed(options, load, **overrides).latencies_ms
            label = f"{name} at {load:,.0f} events/s"
            e2e.progress(f"fetch_wait: {label}: p50 {percentile(latencies, 0.5):,.0f} ms")
            rows += [
                Row(f"{label}, p50", percentile(latencies, 0.50), "ms"),
                Row(f"{label}, p99", percentile(latencies, 0.99), "ms"),
            ]
    return rows

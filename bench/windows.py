"""What closing the due windows costs the worker's event loop as its metric tables fill.

Once a window size, each partials partition closes its windows that are due and forgets those
past retention (``agents.metrics.close_due_windows``), on the worker's one thread. With an hour
of 60 s windows of a few thousand keys each, the tables hold a few hundred thousand keys. The
worker keeps them indexed by owning partition and window start (``WindowKeys``), so a close reads
the keys of the windows it closes or forgets; it used to scan every key of every table, once
per partition. Rows: that scan alone, the index's one scan after an assignment, and a whole
close of all partitions with the index held (one window closing, one expiring).

The measurement runs in a process of its own (``python -m bench.windows KEYS``): importing the
worker's app installs its library fixes, under which the bench's own Kafka clients must not run.
"""

from __future__ import annotations

import asyncio
import functools
import json
import subprocess
import sys
import time
from typing import Any

from bench.section import Row, RunOptions

WINDOWS = 60
"""An hour of the default 60 s windows."""


def _fill(keys: int) -> int:
    """Put ``keys`` keys in the worker's metric tables (their stores, as a recovery would),
    spread over the metrics and ``WINDOWS`` windows; returns the start of the oldest window."""
    from agents.metrics import POLICY, _encode_partial, tables
    from processor import process_request
    from processor.metrics import aggregate
    from processor.samples import sample_requests

    # A real key and partial of each metric (from sample requests' records) for every key.
    bodies = sample_requests(4, seed=1)
    records = [record for body in bodies for record in process_request(body, (), 0).records]
    templates = {
        metric: (key, _encode_partial(partial))
        for (metric, key, _), partial in aggregate(records, POLICY.size_ms).items()
    }
    per_window = max(1, keys // WINDOWS // len(templates))
    oldest = 1_000 * POLICY.size_ms
    for metric, (key, value) in templates.items():
        store = tables[metric].data
        for window in range(WINDOWS):
            start = oldest + window * POLICY.size_ms
            for n in range(per_window):
                store[(start, *key[:-1], f"{key[-1]}-{n}")] = value
    return oldest


def _former_scan() -> None:
    """The selection of the former close: every key of every table, once per partition."""
    from agents.metrics import PARTITIONS, tables
    from processor.metrics import key_partition

    for partition in range(PARTITIONS):
        owners: dict[Any, int] = {}
        for table in tables.values():
            for table_key in list(table.keys()):
                key = tuple(table_key[1:])
                owner = owners.get(key)
                if owner is None:
                    owner = owners[key] = key_partition(key, PARTITIONS)
                if owner != partition:
                    continue


async def _measure(keys: int) -> dict[str, float]:
    import agents.app  # first: it imports the agents in their order
    from agents import metrics
    from agents.batches import writing_as
    from agents.changelog import Changes

    app = agents.app.app

    async def no_delivery(*args: Any) -> None:
        return None

    metrics.deliver = no_delivery  # type: ignore[assignment]  # the loop's work only
    oldest = _fill(keys)
    held = sum(len(table.data) for table in metrics.tables.values())
    # The oldest window expires and the next-to-last closes at this moment.
    policy = metrics.POLICY
    now = oldest + policy.size_ms + policy.retention_ms
    figures: dict[str, float] = {"keys": held}
    app.flow_control.resume()
    channel = app.channel()
    stream = channel.stream()
    await channel.send(value=b"x")
    async for event in stream.events():
        writing = functools.partial(writing_as, stream, event, Changes())
        started = time.perf_counter()
        _former_scan()
        figures["scan_ms"] = (time.perf_counter() - started) * 1000
        started = time.perf_counter()
        metrics._window_keys = None
        metrics._held_window_keys()
        figures["rebuild_ms"] = (time.perf_counter() - started) * 1000
        with writing():
            for partition in range(metrics.PARTITIONS):
                metrics.closed_windows[partition] = policy.open_from(now) - policy.size_ms
        started = time.perf_counter()
        for partition in range(metrics.PARTITIONS):
            await metrics.close_due_windows(partition, now, writing)
        figures["close_ms"] = (time.perf_counter() - started) * 1000
        figures["left"] = sum(len(table.data) for table in metrics.tables.values())
        break
    return figures


def measure(options: RunOptions) -> list[Row]:
    keys = 20_000 if options.tiny else 250_000
    done = subprocess.run(
        [sys.executable, "-m", "bench.windows", str(keys)],
        capture_output=True,
        text=True,
        check=True,
        timeout=600,
    )
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    return [
        Row("metric table keys held", figures["keys"], "keys"),
        Row("former close: the scan of every key, all partitions", figures["scan_ms"], "ms"),
        Row("index built by one scan (after an assignment)", figures["rebuild_ms"], "ms"),
        Row("close of all partitions, index held", figures["close_ms"], "ms"),
        Row("keys left (one window forgotten)", figures["left"], "keys"),
    ]


if __name__ == "__main__":
    print(json.dumps(asyncio.run(_measure(int(sys.argv[1])))))

"""The limit: a bare relay of the same input on the same broker, against the worker's rate.

``bench.bare_relay`` splits each raw request into its events and produces one keyed message per
event, waiting for every acknowledgement: once with aiokafka, once with librdkafka. It reads
the e2e section's input (the same bodies and headers on a raw topic of the same partitions)
from the beginning, as the worker does. events/s = events produced / (first request taken to
last acknowledgement); CPU per million events of the relay's process and of the broker's over
that window (``bench.cpu``). The faster relay is the limit; worker/limit compares it with the
worker's e2e rate on the same kind of broker (measured here when the e2e section did not run).
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from agents.settings import Settings
from bench import e2e
from bench.broker import Broker, broker_pid, create_topics, own_broker, preload
from bench.cpu import CpuSampler
from bench.section import Row, RunOptions
from bench.traffic import stamped_headers
from bench.worker import AppProcess

CLIENTS = ("aiokafka", "librdkafka")


def relay(
    broker: Broker, work: Path, client: str, raw: str, requests: int, timeout: float
) -> e2e.Run:
    """One relay process through the whole raw topic."""
    run_id = uuid.uuid4().hex[:8]
    output = f"l{run_id}.events.relay"
    asyncio.run(create_topics(broker.bootstrap, [output], Settings.from_env().topic_partitions))
    result_path = work / f"relay-{client}.json"
    args = (
        "-m", "bench.bare_relay", client, "--bootstrap", broker.bootstrap, "--raw", raw,
        "--output", output, "--group", f"limit-{run_id}", "--requests", str(requests),
        "--timeout", str(timeout), "--result", str(result_path),
    )  # fmt: skip
    with (
        AppProcess(args, {}, work / f"relay-{client}.log") as process,
        CpuSampler({"app": process.pid, "broker": broker_pid(broker)}) as cpu,
    ):
        deadline = time.monotonic() + timeout + 30
        while not result_path.exists():
            process.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{client} relay not done in {timeout} s:\n{process.log()}")
            time.sleep(0.05)
        result = json.loads(result_path.read_text())
    start, end = result["first_taken"], result["last_acked"]
    used = cpu.between(start, end)
    return e2e.Run(result["events"], end - start, {}, end - start, used["app"], used["broker"])


def measure(options: RunOptions) -> list[Row]:
    size = e2e.sizes(options)
    bodies = e2e.input_bodies(size.requests)
    headers = stamped_headers(int(time.time() * 1000))
    runs: dict[str, e2e.Run] = {}
    with tempfile.TemporaryDirectory(prefix="bench-limit-") as tmp:
        work = Path(tmp)
        with own_broker(options.broker, work) as broker:
            raw = f"l{uuid.uuid4().hex[:8]}.events.raw"
            partitions = Settings.from_env().topic_partitions
            asyncio.run(create_topics(broker.bootstrap, [raw], partitions))
            asyncio.run(preload(broker.bootstrap, raw, bodies, headers))
            for client in CLIENTS:
                runs[client] = relay(broker, work, client, raw, size.requests, size.timeout)
                e2e.progress(f"limit: {client} relay {runs[client].rate:,.0f} events/s")
    worker = e2e.worker_run(options)
    limit = max(runs.values(), key=lambda run: run.rate)
    rows = []
    for client, run in runs.items():
        rows += [
            Row(f"{client} relay events", run.outputs, "events"),
            Row(f"{client} relay events/s", run.rate, "events/s"),
            *run.cpu_rows(f"{client} relay"),
        ]
    return [
        *rows,
        Row("limit (the faster relay) events/s", limit.rate, "events/s"),
        Row("worker events/s", worker.rate, "events/s"),
        *worker.cpu_rows("worker"),
        Row("worker/limit", 100 * worker.rate / limit.rate, "%"),
    ]

"""What each delivery mode costs: at least once, with the dedup window (the default), exactly once.

One worker through the same pre-loaded requests once per mode, the modes interleaved over
rounds so that a noisy moment of a shared machine does not fall on one mode alone. Each run has
a raw topic and consumer group of its own on one local Apache Kafka node: the only broker on
which all three modes run (the embedded broker refuses transactional producers).

A run lasts from the first raw message entering the ingest stream (the bench's probe) to the
moment every raw offset is committed: what the modes differ in is how a batch's output becomes
durable (acknowledged, then committed; or committed with its offsets in one transaction), and a
commit is the point after which a crash repeats nothing. Rate = output messages / that time;
the output topics, read with ``read_committed``, must then hold exactly the expected messages.
A mode's rate is its best round; its cost is the share of the at least once rate it gives up.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

from aiokafka.admin import AIOKafkaAdminClient

from agents.kafka.kafka_release import tools_present
from agents.settings import Settings
from bench.broker import RecordCounter, create_topics, own_broker, preload
from bench.e2e import (
    RAW_SUFFIX,
    Sizes,
    output_topics,
    prepared_input,
    progress,
    wait_probe,
)
from bench.section import Row, RunOptions
from bench.worker import PROBED_WORKER, AppProcess, app_env

COMMIT_POLL_SECONDS = 0.05

MODES: dict[str, dict[str, str]] = {
    "at least once": {"DEDUP_WINDOW_SECONDS": "0"},
    "at least once + dedup window": {"DEDUP_WINDOW_SECONDS": "300"},
    "exactly once + dedup window": {
        "DEDUP_WINDOW_SECONDS": "300",
        "PROCESSING_GUARANTEE": "exactly_once",
    },
}


async def _all_committed(
    bootstrap: str, group: str, topic: str, count: int, worker: AppProcess, timeout: float
) -> float:
    """When ``group`` had committed ``count`` offsets of ``topic``, polled with one client."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.monotonic() + timeout
        while True:
            offsets = await admin.list_consumer_group_offsets(group)
            committed = sum(
                meta.offset for tp, meta in offsets.items() if tp.topic == topic and meta.offset > 0
            )
            if committed >= count:
                return time.time()
            worker.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"{topic}: offsets not all committed in {timeout} s")
            await asyncio.sleep(COMMIT_POLL_SECONDS)
    finally:
        await admin.close()


async def _outputs(bootstrap: str, prefix: str) -> int:
    async with RecordCounter(bootstrap, isolation_level="read_committed") as reader:
        return sum((await reader.counts(output_topics(prefix))).values())


def run_mode(bootstrap: str, work: Path, env: dict[str, str], size: Sizes) -> tuple[int, float]:
    """Output messages, and seconds from the first raw message in to the last raw offset
    committed (see the module's docstring)."""
    probe = work / "probe.json"
    raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
    with AppProcess(
        PROBED_WORKER, {**env, "BENCH_PROBE_PATH": str(probe)}, work / "worker.log"
    ) as worker:
        start = wait_probe(worker, probe, lambda s: raw in s.first_in, size.timeout).first_in[raw]
        end = asyncio.run(
            _all_committed(bootstrap, env["APP_ID"], raw, size.requests, worker, size.timeout)
        )
    return asyncio.run(_outputs(bootstrap, env["TOPIC_PREFIX"])), end - start


def _rounds(options: RunOptions) -> int:
    return 1 if options.quick or options.tiny else 2


def measure(options: RunOptions) -> list[Row]:
    if not tools_present():
        progress("modes: skipped, exactly once needs a local Apache Kafka (java and mvn)")
        return []
    size, bodies, headers, expected = prepared_input(options)
    partitions = Settings.from_env().topic_partitions
    rates: dict[str, list[float]] = {mode: [] for mode in MODES}
    with tempfile.TemporaryDirectory(prefix="bench-modes-") as tmp:
        work = Path(tmp)
        with own_broker("kafka", work) as broker:
            for round_number in range(_rounds(options)):
                for mode, overrides in MODES.items():
                    run_dir = work / f"{round_number}-{len(rates[mode])}-{mode.replace(' ', '-')}"
                    run_dir.mkdir()
                    env = app_env(broker.bootstrap, run_dir / "data", **overrides)
                    raw = env["TOPIC_PREFIX"] + RAW_SUFFIX
                    asyncio.run(create_topics(broker.bootstrap, [raw], partitions))
                    asyncio.run(preload(broker.bootstrap, raw, bodies, headers))
                    outputs, seconds = run_mode(broker.bootstrap, run_dir, env, size)
                    if outputs != expected.outputs:
                        raise RuntimeError(
                            f"{mode}: the worker wrote {outputs} output messages, "
                            f"{expected.outputs} were expected"
                        )
                    rate = outputs / seconds
                    progress(f"modes: {mode}, round {round_number + 1}: {rate:,.0f} events/s")
                    rates[mode].append(rate)
    base = max(rates["at least once"])
    rows = [Row("modes input events", expected.events, "events")]
    for mode, measured in rates.items():
        rows += [
            Row(f"{mode} events/s (best of {len(measured)})", max(measured), "events/s"),
            Row(f"{mode} / at least once", 100 * max(measured) / base, "%"),
        ]
    return rows

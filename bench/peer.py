"""The peer: the same job written with Quix Streams (``bench.peer_app``), on the same input.

The raw topic holds the e2e section's input; the worker and the peer each read all of it, in
a consumer group of their own, on one broker. The peer's start is its first raw message
processed, its end the moment it had processed every raw message and every message of its
count's repartition topic (its output is then handed to librdkafka; Quix confirms it at its
next checkpoint, which is not counted). events/s = output messages / (end - start), and the
output topics must then hold exactly the expected messages. CPU per million events of each
process and of the broker's over each window (``bench.cpu``).

Quix reads every topic's configuration at start (``retention.ms`` among others); a broker that
describes none (the embedded one) cannot run it. The section then starts a local Apache Kafka
of its own for both contenders, and a row says so.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from pathlib import Path

from confluent_kafka.admin import AdminClient, ConfigResource

from agents.settings import Settings
from bench import e2e
from bench.broker import Broker, broker_pid, create_topics, own_broker, preload
from bench.cpu import CpuSampler
from bench.probe import ProbeState
from bench.section import Row, RunOptions
from bench.traffic import stamped_headers
from bench.worker import AppProcess, app_env

PEER = ("-m", "bench.peer_app")


def describes_retention(bootstrap: str, topic: str) -> bool:
    """Whether the broker names ``topic``'s ``retention.ms``, as Quix needs it to."""
    admin = AdminClient({"bootstrap.servers": bootstrap})
    (described,) = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return "retention.ms" in described.result(timeout=30)


def peer_broker(options: RunOptions, work: Path) -> str:
    """The bench's broker when Quix can run on it, else Apache Kafka."""
    if options.broker == "kafka":
        return "kafka"
    with own_broker(options.broker, work / "check") as broker:
        topic = "configs-check"
        asyncio.run(create_topics(broker.bootstrap, [topic], 1))
        return options.broker if describes_retention(broker.bootstrap, topic) else "kafka"


def run_peer(
    broker: Broker, work: Path, raw: str, expected: e2e.Expected, timeout: float
) -> e2e.Run:
    """The Quix app through the whole raw topic."""
    run_id = uuid.uuid4().hex[:8]
    prefix = f"q{run_id}."
    progress = work / "peer-progress.json"
    env = {
        "PEER_BOOTSTRAP": broker.bootstrap,
        "PEER_RAW_TOPIC": raw,
        "PEER_TOPIC_PREFIX": prefix,
        "PEER_PARTITIONS": str(Settings.from_env().topic_partitions),
        "PEER_GROUP": f"peer-{run_id}",
        "PEER_STATE_DIR": str(work / "peer-state"),
        "PEER_PROGRESS_PATH": str(progress),
    }
    repartition = None
    with (
        AppProcess(PEER, env, work / "peer.log") as peer,
        CpuSampler({"app": peer.pid, "broker": broker_pid(broker)}) as cpu,
    ):
        deadline = time.monotonic() + timeout
        while True:
            state = ProbeState.read(progress)
            repartition = next((topic for topic in state.out if topic != raw), None)
            records = state.out.get(repartition, 0) if repartition else 0
            if state.out.get(raw, 0) >= expected.requests and records >= expected.records:
                break
            peer.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"peer {state.out} not done in {timeout} s:\n{peer.log()}")
            time.sleep(0.05)
        start = state.first_in[raw]
        end = max(state.last_out[raw], state.last_out[repartition] if repartition else 0.0)
        outputs = e2e.output_count(broker.bootstrap, e2e.output_topics(prefix))
    used = cpu.between(start, end)
    return e2e.Run(outputs, end - start, {}, end - start, used["app"], used["broker"])


def measure(options: RunOptions) -> list[Row]:
    size = e2e.sizes(options)
    bodies = e2e.input_bodies(size.requests)
    received_at_ms = int(time.time() * 1000)
    headers = stamped_headers(received_at_ms)
    expected = e2e.expected_output(bodies, headers, received_at_ms)
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as tmp:
        work = Path(tmp)
        kind = peer_broker(options, work)
        with own_broker(kind, work) as broker:
            env = app_env(broker.bootstrap, work / "data")
            raw = env["TOPIC_PREFIX"] + e2e.RAW_SUFFIX
            asyncio.run(
                create_topics(broker.bootstrap, [raw], Settings.from_env().topic_partitions)
            )
            asyncio.run(preload(broker.bootstrap, raw, bodies, headers))
            worker = e2e.run_worker(broker, work, env, size)
            e2e.progress(f"peer: worker {worker.rate:,.0f} events/s on {kind}")
            peer = run_peer(broker, work, raw, expected, size.timeout)
            e2e.progress(f"peer: Quix Streams {peer.rate:,.0f} events/s on {kind}")
    for who, run in (("worker", worker), ("peer", peer)):
        if run.outputs != expected.outputs:
            raise RuntimeError(
                f"the {who} wrote {run.outputs} outputs, {expected.outputs} expected"
            )
    rows = []
    if kind != options.broker:
        rows.append(
            Row("both on Apache Kafka: the embedded broker describes no topic config", 1, "yes")
        )
    return [
        *rows,
        Row("peer (Quix Streams) output messages", peer.outputs, "messages"),
        Row("peer events/s", peer.rate, "events/s"),
        *peer.cpu_rows("peer"),
        Row("worker events/s, same broker", worker.rate, "events/s"),
        *worker.cpu_rows("worker"),
        Row("worker/peer", worker.rate / peer.rate, "x"),
    ]

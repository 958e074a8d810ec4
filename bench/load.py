"""Offered load: a running worker fed requests at a fixed rate, and the clock of its output.

Each request is stamped with its send time as ``statsig-received-at`` (what HTTP ingress does
right before it produces), with a client clock 1.5 s behind. Every output record carries that
time as ``receivedAt``, so its latency is its arrival time at a consumer minus ``receivedAt``:
produce, fetch by the worker, batching, processing, delivery and the consumer's own fetch.
"""

from __future__ import annotations

import asyncio
import gc
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from agents.kafka.metadata import topic_partitions
from bench.broker import Broker, new_producer, own_broker
from bench.e2e import RAW_SUFFIX, expected_output, output_topics
from bench.traffic import LiveBodies, recent_bodies, stamped_headers
from bench.worker import WORKER, AppProcess, app_env


def outputs_per_request(bodies: Sequence[bytes]) -> float:
    """Output messages a request of ``bodies`` makes, on average."""
    now_ms = int(time.time() * 1000)
    return expected_output(bodies, stamped_headers(now_ms), now_ms).outputs / len(bodies)


@dataclass(frozen=True)
class LoadedWorker:
    worker: AppProcess
    broker: Broker

    @property
    def bootstrap(self) -> str:
        return self.broker.bootstrap

    @property
    def raw_topic(self) -> str:
        return self.worker.prefix + RAW_SUFFIX

    @property
    def output_topics(self) -> list[str]:
        return output_topics(self.worker.prefix)


@contextmanager
def worker_on_own_broker(name: str, broker_kind: str, **overrides: str) -> Iterator[LoadedWorker]:
    """A broker of its own (``bench.broker.own_broker``) and one real worker (``agents.run``,
    its environment with ``overrides``) on it, ready to consume."""
    with tempfile.TemporaryDirectory(prefix=f"bench-{name}-") as tmp:
        work = Path(tmp)
        with own_broker(broker_kind, work) as broker:
            env = app_env(broker.bootstrap, work / "data", **overrides)
            with AppProcess(WORKER, env, work / "worker.log") as worker:
                worker.wait_ready()
                yield LoadedWorker(worker, broker)


async def offer(
    producer: AIOKafkaProducer,
    topic: str,
    bodies: LiveBodies,
    requests_per_second: float,
    seconds: float,
    first: int = 0,
) -> int:
    """Send ``bodies`` in turn at ``requests_per_second`` for ``seconds``, numbered from
    ``first`` (each request one of its own); return how many.

    Every 5 ms it sends the requests due by then, so the load is smooth at any rate; a send
    stamps the time it is made, not the time it was due.
    """
    acks: list[asyncio.Future[object]] = []
    sent = 0
    start = time.monotonic()
    while (elapsed := time.monotonic() - start) < seconds:
        due = min(int(elapsed * requests_per_second) + 1, int(seconds * requests_per_second))
        while sent < due:
            now_ms = int(time.time() * 1000)
            acks.append(
                await producer.send(
                    topic,
                    bodies.body(first + sent),
                    headers=stamped_headers(now_ms),
                    timestamp_ms=now_ms,
                )
            )
            sent += 1
        if len(acks) >= 1_000:
            await asyncio.gather(*acks)
            acks.clear()
        await asyncio.sleep(0.005)
    await asyncio.gather(*acks)
    return sent


@dataclass
class Arrivals:
    """Latencies (ms) of the output records whose request was sent at or after ``since_ms``."""

    since_ms: int
    latencies_ms: list[float] = field(default_factory=list)
    created_latencies_ms: list[float] = field(default_factory=list)
    """Up to the record's timestamp: when the worker handed it to its producer."""
    sent_ms: list[int] = field(default_factory=list)
    """When each timed record's request was sent."""
    records: int = 0
    """Every output record seen, the priming ones included."""


class _Stamped(msgspec.Struct):
    """The one field of an output record the clock reads; the rest is skipped unread."""

    receivedAt: int | None = None


_read_stamp = msgspec.json.Decoder(_Stamped).decode


class OutputClock:
    """Reads the output topics as they fill and times each record (see the module docstring)."""

    def __init__(self, bootstrap: str, topics: Sequence[str]) -> None:
        self._topics = list(topics)
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=50
        )
        self.arrivals = Arrivals(since_ms=2**62)

    async def start(self, timeout: float = 30.0) -> None:
        """Assign every partition of the topics, once the worker has created them all."""
        await self._consumer.start()
        deadline = time.monotonic() + timeout
        while not set(self._topics) <= await self._consumer.topics():
            if time.monotonic() > deadline:
                raise TimeoutError(f"the worker did not create {self._topics} in {timeout} s")
            await asyncio.sleep(0.2)
        partitions = await topic_partitions(self._bootstrap, self._topics)
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        # The bench's own heap (every earlier section's) out of the collector's sight: a full
        # collection would otherwise stop this process's reads and sends for tens of ms.
        gc.collect()
        gc.freeze()

    async def stop(self) -> None:
        await self._consumer.stop()

    async def read(self, timeout_ms: int = 100) -> int:
        """One fetch; returns how many records came."""
        batch = await self._consumer.getmany(timeout_ms=timeout_ms, max_records=5_000)
        arrived_ms = time.time() * 1000
        arrivals = self.arrivals
        count = 0
        for records in batch.values():
            count += len(records)
            for record in records:
                received_at = _read_stamp(record.value or b"{}").receivedAt
                if received_at is None or received_at < arrivals.since_ms:
                    continue
                arrivals.latencies_ms.append(arrived_ms - received_at)
                arrivals.created_latencies_ms.append(record.timestamp - received_at)
                arrivals.sent_ms.append(received_at)
        arrivals.records += count
        return count


async def prime(loaded: LoadedWorker, clock: OutputClock, timeout: float = 60.0) -> None:
    """Send one request and wait for its output: the worker has its partitions and is warm."""
    (body,) = recent_bodies(1, seed=-1)
    records = outputs_per_request([body])
    producer = new_producer(loaded.bootstrap)
    await producer.start()
    try:
        now_ms = int(time.time() * 1000)
        await (await producer.send(loaded.raw_topic, body, headers=stamped_headers(now_ms)))
    finally:
        await producer.stop()
    deadline = time.monotonic() + timeout
    while clock.arrivals.records < records:
        loaded.worker.check_alive()
        if time.monotonic() > deadline:
            raise TimeoutError(f"no output for the priming request in {timeout} s")
        await clock.read()

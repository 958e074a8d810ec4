"""The bench's own broker (embedded or Apache Kafka), and plain aiokafka clients that fill and
count its topics."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Protocol

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.kafka.apache_kafka import LocalKafka
from agents.kafka.embedded_broker import EmbeddedBroker, free_port
from agents.kafka.metadata import topic_partitions

Header = tuple[str, bytes]
BROKERS = ("embedded", "kafka")


class Broker(Protocol):
    @property
    def bootstrap(self) -> str: ...


@contextmanager
def own_broker(kind: str, log_dir: Path) -> Iterator[Broker]:
    """A broker of the bench's own on free loopback ports, stopped (its data gone) on exit:
    ``embedded`` (Tansu, memory only) or ``kafka`` (one Apache Kafka KRaft node)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    if kind == "kafka":
        with LocalKafka() as kafka:
            yield kafka
    elif kind == "embedded":
        with EmbeddedBroker(port=free_port(), log_path=log_dir / "tansu.log") as broker:
            yield broker
    else:
        raise ValueError(f"no broker {kind!r}: choose from {', '.join(BROKERS)}")


def broker_pid(broker: Broker) -> int:
    """The process id of the bench's broker (one Kafka node, or Tansu): its CPU is measured."""
    if isinstance(broker, LocalKafka):
        (pid,) = broker.pids.values()
    elif isinstance(broker, EmbeddedBroker):
        pid = broker.pid
    else:
        raise TypeError(f"not a broker of the bench's own: {broker!r}")
    if pid is None:
        raise RuntimeError("the broker is not running")
    return pid


async def create_topics(bootstrap: str, names: Iterable[str], partitions: int) -> None:
    """Create topics explicitly: auto-creation by a produce may pick another partition count."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1) for name in names])
    finally:
        await admin.close()


def new_producer(bootstrap: str) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=5, max_batch_size=1024 * 1024, acks="all"
    )


async def preload(
    bootstrap: str, topic: str, bodies: Sequence[bytes], headers: Sequence[Header]
) -> None:
    """Produce every body (no key: spread over the partitions) and wait for all the acks."""
    producer = new_producer(bootstrap)
    await producer.start()
    try:
        acks = [await producer.send(topic, body, headers=list(headers)) for body in bodies]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()


class RecordCounter:
    """Counts the records of topics by reading them to their high watermarks.

    Tansu's ListOffsets answers the base offset of a partition's last batch, not its end, so
    end offsets undercount there; the high watermark of a fetch response is right everywhere.
    """

    def __init__(
        self, bootstrap: str, timeout: float = 60.0, isolation_level: str = "read_uncommitted"
    ) -> None:
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            isolation_level=isolation_level,
            max_partition_fetch_bytes=8 * 1024 * 1024,
            fetch_max_bytes=32 * 1024 * 1024,
        )
        self._timeout = timeout

    async def __aenter__(self) -> RecordCounter:
        await self._consumer.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._consumer.stop()

    async def topic_names(self) -> set[str]:
        """Every topic on the broker now (refreshes the cached metadata)."""
        return set(await self._consumer.topics())

    async def _caught_up(self, partitions: list[TopicPartition]) -> bool:
        for tp in partitions:
            highwater = self._consumer.highwater(tp)
            if highwater is None or await self._consumer.position(tp) < highwater:
                return False
        return True

    async def counts(
        self, topics: Iterable[str], created_until_ms: int | None = None
    ) -> dict[str, int]:
        """Records per topic (a topic that does not exist yet counts 0); with
        ``created_until_ms``, only those whose timestamp is not later."""
        topics = list(topics)
        partitions = await topic_partitions(self._bootstrap, topics)
        counts = dict.fromkeys(topics, 0)
        if not partitions:
            return counts
        self._consumer.assign(partitions)
        await self._consumer.seek_to_beginning(*partitions)
        deadline = time.monotonic() + self._timeout
        while not await self._caught_up(partitions):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {topics} to their ends in {self._timeout} s")
            batch = await self._consumer.getmany(timeout_ms=200, max_records=20_000)
            for tp, records in batch.items():
                if created_until_ms is None:
                    counts[tp.topic] += len(records)
                else:
                    counts[tp.topic] += sum(r.timestamp <= created_until_ms for r in records)
        return counts

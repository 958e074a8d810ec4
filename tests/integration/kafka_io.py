"""Plain aiokafka clients for tests: produce raw messages, read output topics from the start."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from agents.kafka.metadata import topic_partitions

Header = tuple[str, bytes]
PRODUCE_TIMEOUT = 120.0
HANG_MARGIN = 30.0
"""Seconds past its own deadline that a read may take before it counts as hung."""


@dataclass(frozen=True)
class Consumed:
    topic: str
    partition: int
    key: bytes | None
    value: Any
    headers: dict[str, bytes]


def create_topic(bootstrap: str, name: str, partitions: int, replicas: int = 1) -> None:
    """Create a topic explicitly, as an operator (or a producer's auto-creation) would."""

    async def create() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(name, partitions, replicas)])
        finally:
            await admin.close()

    asyncio.run(create())


def _json_or_bytes(value: bytes | None) -> Any:
    """A JSON value as Python, anything else (a binary internal topic) as its bytes."""
    if not value:
        return None
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return value


def produce(
    bootstrap: str,
    topic: str,
    messages: Iterable[tuple[bytes, Sequence[Header]]],
    max_request_size: int = 1024 * 1024,
) -> int:
    """Send (value, headers) pairs and wait until the broker acknowledged all of them (acks=all,
    as the worker's own producer: on a replicated topic, in every in-sync replica)."""

    async def run() -> int:
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap,
            linger_ms=5,
            max_request_size=max_request_size,
            acks="all",
        )
        await producer.start()
        try:
            futures = [
                await producer.send(topic, value, headers=list(headers))
                for value, headers in messages
            ]
            await asyncio.gather(*futures)
            return len(futures)
        finally:
            await producer.stop()

    return asyncio.run(asyncio.wait_for(run(), PRODUCE_TIMEOUT))


def read_topics(
    bootstrap: str,
    topics: Sequence[str],
    done: Callable[[list[Consumed]], bool],
    timeout: float = 60.0,
    settle: float = 1.0,
) -> list[Consumed]:
    """Read the topics from the beginning until ``done`` holds, then ``settle`` seconds more
    (so that extra, unexpected records would show), or until ``timeout``; a client call that
    hangs past that (a broker that stopped answering) fails the read."""

    async def run() -> list[Consumed]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        seen: list[Consumed] = []
        try:
            assigned: set[TopicPartition] = set()
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                if {tp.topic for tp in assigned} < set(topics):
                    wanted = set(await topic_partitions(bootstrap, topics))
                    if wanted - assigned:
                        assigned = wanted
                        consumer.assign(list(assigned))
                        await consumer.seek_to_beginning(*assigned)
                        seen.clear()
                if not assigned:  # none of the topics exists yet
                    await asyncio.sleep(0.2)
                    continue
                batch = await consumer.getmany(timeout_ms=200)
                for records in batch.values():
                    seen.extend(
                        Consumed(
                            topic=record.topic,
                            partition=record.partition,
                            key=record.key,
                            value=_json_or_bytes(record.value),
                            headers=dict(record.headers or ()),
                        )
                        for record in records
                    )
                if settle_until is None and done(seen):
                    settle_until = time.monotonic() + settle
                if settle_until is not None and time.monotonic() >= settle_until:
                    break
            return seen
        finally:
            await consumer.stop()

    return asyncio.run(asyncio.wait_for(run(), timeout + settle + HANG_MARGIN))

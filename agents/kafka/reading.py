"""Read topics from the oldest record, outside any consumer group: for the CLI verbs."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition

from agents.app import settings
from agents.kafka.metadata import topic_partitions


class TopicMissing(LookupError):
    """The topic does not exist (yet) on the broker."""


@asynccontextmanager
async def _consumer() -> AsyncIterator[AIOKafkaConsumer]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        yield consumer
    finally:
        await consumer.stop()


async def read_topic(
    topic: str, follow: bool, idle_timeout: float
) -> AsyncIterator[ConsumerRecord[bytes, bytes]]:
    """Every record of ``topic``, oldest first; stop when caught up (unless ``follow``) or after
    ``idle_timeout`` seconds without a new record."""
    async with _consumer() as consumer:
        partitions = await topic_partitions(settings.bootstrap_servers(), [topic])
        if not partitions:
            raise TopicMissing(topic)
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_timeout:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batch.values():
                idle_since = time.monotonic()
                for record in records:
                    yield record
            caught_up = all([await consumer.position(tp) >= end[tp] for tp in partitions])
            if caught_up and not follow:
                return


async def fetch_record(topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
    """The one record at ``topic``/``partition``/``offset``."""
    async with _consumer() as consumer:
        where = TopicPartition(topic, partition)
        consumer.assign([where])
        consumer.seek(where, offset)
        record = await consumer.getone()
        if record.offset != offset:
            raise LookupError(f"{topic}/{partition}/{offset} is gone (retention or compaction)")
        return record

"""Deliver a batch's output to Kafka and wait for every acknowledgement, retrying failures.

With Faust's aiokafka producer the messages are grouped by topic-partition and handed to aiokafka
as whole record batches (``create_batch``/``send_batch``): one future per batch instead of one
per message, and no per-message trip through Faust's and aiokafka's ``send``. The partition of a
message without an explicit one is the producer's own partitioner's choice (Kafka's murmur2 of
the key, as every Kafka client places it), so keys land where per-message sends put them.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from typing import Any, NamedTuple

from aiokafka.partitioner import DefaultPartitioner, murmur2
from faust.types import ProducerT

log = logging.getLogger(__name__)

Header = tuple[str, bytes]

_RECORD_OVERHEAD = 64
"""Bytes a v2 record adds to its key, value and headers (varints, attributes; generous)."""
_BATCH_OVERHEAD = 128
"""Bytes of a record batch's header (61 in v2; generous)."""


_KEY_HASHES: dict[bytes, int] = {}
"""Kafka's murmur2 of the keys seen lately, as the default partitioner hashes them: aiokafka's
murmur2 is pure Python (about 6 us for an 18-byte key), and unit ids recur from batch to batch."""
KEY_HASHES_HELD = 20_000


def key_partition(key: bytes, partitions: Sequence[int]) -> int:
    """The partition of ``partitions`` (all of the topic's, sorted) that aiokafka's default
    partitioner gives ``key``."""
    hashed = _KEY_HASHES.get(key)
    if hashed is None:
        if len(_KEY_HASHES) >= KEY_HASHES_HELD:
            _KEY_HASHES.clear()
        hashed = _KEY_HASHES[key] = murmur2(key) & 0x7FFFFFFF
    return partitions[hashed % len(partitions)]


class Outgoing(NamedTuple):
    topic: str
    key: bytes | None
    value: bytes | None
    """None: a tombstone (a table key deleted, in its changelog)."""
    headers: list[Header]
    partition: int | None = None
    """None: the producer's partitioner picks one from the key."""


class DeliveryFailed(RuntimeError):
    """Some output of a batch could not be delivered after every retry."""


def _aiokafka_producer(producer: ProducerT) -> Any | None:
    """The started AIOKafkaProducer behind Faust's producer, or None if there is none."""
    ensure = getattr(producer, "_ensure_producer", None)
    if ensure is None:
        return None
    aio = ensure()
    if not all(hasattr(aio, name) for name in ("create_batch", "send_batch", "_partitioner")):
        return None
    return aio


Acked = dict[tuple[str, int], int]
"""(topic, partition) -> the highest offset the broker acknowledged there."""


def _record_size(message: Outgoing) -> int:
    size = _RECORD_OVERHEAD if message.value is None else len(message.value) + _RECORD_OVERHEAD
    if message.key is not None:
        size += len(message.key)
    for name, value in message.headers:
        size += len(name) + len(value) + 8
    return size


async def _partitioned(
    aio: Any, messages: Sequence[Outgoing]
) -> dict[tuple[str, int], list[Outgoing]]:
    """Group the messages by the topic-partition the producer would send each to, in order."""
    groups: dict[tuple[str, int], list[Outgoing]] = {}
    partitioner = aio._partitioner
    default = type(partitioner) is DefaultPartitioner
    metadata = aio.client.cluster
    choices: dict[str, tuple[list[int], list[int]]] = {}
    for message in messages:
        topic = message.topic
        partition = message.partition
        if partition is None:
            choice = choices.get(topic)
            if choice is None:
                await aio.client._wait_on_metadata(topic)
                every = sorted(metadata.partitions_for_topic(topic))
                available = list(metadata.available_partitions_for_topic(topic))
                choice = choices[topic] = (every, available)
            every, available = choice
            key = message.key
            if key is not None and default:
                partition = key_partition(key, every)
            else:
                partition = partitioner(key, every, available)
        group = groups.get((topic, partition))
        if group is None:
            group = groups[(topic, partition)] = []
        group.append(message)
    return groups


def _batches(aio: Any, messages: list[Outgoing], limit: int) -> list[tuple[Any, list[Outgoing]]]:
    """Fill record batches in order; a batch holds at most ``limit`` bytes, or one message."""
    batches: list[tuple[Any, list[Outgoing]]] = []
    batch = None
    members: list[Outgoing] = []
    size = 0
    for message in messages:
        record = _record_size(message)
        if batch is not None and size + record > limit:
            batch = None
        added = None
        if batch is not None:
            added = batch.append(
                key=message.key, value=message.value, timestamp=None, headers=message.headers
            )
        if added is None:  # no batch yet, or this one is full
            batch = aio.create_batch()
            members = []
            batches.append((batch, members))
            size = _BATCH_OVERHEAD
            batch.append(
                key=message.key, value=message.value, timestamp=None, headers=message.headers
            )
        members.append(message)
        size += record
    return batches


def _book(acked: Acked | None, topic: str, partition: int, offset: int) -> None:
    if acked is not None and offset > acked.get((topic, partition), -1):
        acked[(topic, partition)] = offset


async def send_batches(
    aio: Any, messages: Sequence[Outgoing], acked: Acked | None = None
) -> list[Outgoing]:
    """Send as record batches, wait for all acknowledgements, return the messages that failed;
    ``acked`` gets the last offset acknowledged per partition."""
    limit = max(getattr(aio, "_max_request_size", 1_000_000) - _BATCH_OVERHEAD, 1)
    failed: list[Outgoing] = []
    try:
        groups = await _partitioned(aio, messages)
    except Exception as exc:  # no metadata for a topic: try everything again later
        log.warning("no partitions for the output: %r", exc)
        return list(messages)
    per_partition = [
        (topic, partition, _batches(aio, group, limit))
        for (topic, partition), group in groups.items()
    ]
    futures: list[asyncio.Future[Any]] = []
    sent: list[tuple[str, int, list[Outgoing]]] = []
    # One batch per partition per round: aiokafka queues a second batch for a partition only
    # after the first one left, so a partition's overflow must not hold the others back.
    for round_ in range(max((len(batches) for _, _, batches in per_partition), default=0)):
        for topic, partition, batches in per_partition:
            if round_ >= len(batches):
                continue
            batch, members = batches[round_]
            try:
                futures.append(await aio.send_batch(batch, topic, partition=partition))
                sent.append((topic, partition, members))
            except Exception as exc:  # the producer refused it outright; try again later
                log.warning("send to %s[%d] refused: %r", topic, partition, exc)
                failed.extend(members)
    results = await asyncio.gather(*futures, return_exceptions=True)
    for (topic, partition, members), result in zip(sent, results, strict=True):
        if isinstance(result, BaseException):
            failed.extend(members)
        elif result is not None:  # the batch's base offset: its first record's
            _book(acked, topic, partition, result.offset + len(members) - 1)
    return failed


async def _send_each(
    producer: ProducerT, messages: Sequence[Outgoing], acked: Acked | None
) -> list[Outgoing]:
    """Send one by one, wait for all acknowledgements, return the messages that failed."""
    futures: list[asyncio.Future[Any]] = []
    failed: list[Outgoing] = []
    sent: list[Outgoing] = []
    for message in messages:
        try:
            futures.append(
                await producer.send(
                    message.topic,
                    message.key,
                    message.value,
                    message.partition,
                    None,
                    message.headers,
                )  # type: ignore[arg-type]
            )
            sent.append(message)
        except Exception as exc:  # the producer refused it outright; try again later
            log.warning("send to %s refused: %r", message.topic, exc)
            failed.append(message)
    results = await asyncio.gather(*futures, return_exceptions=True)
    for message, result in zip(sent, results, strict=True):
        if isinstance(result, BaseException):
            failed.append(message)
        elif result is not None:
            _book(acked, result.topic, result.partition, result.offset)
    return failed


async def _send_all(
    producer: ProducerT, messages: Sequence[Outgoing], acked: Acked | None
) -> list[Outgoing]:
    """Send, wait for all acknowledgements, return the messages that failed."""
    aio = _aiokafka_producer(producer)
    if aio is None:
        return await _send_each(producer, messages, acked)
    return await send_batches(aio, messages, acked)


async def deliver(
    producer: ProducerT,
    messages: Sequence[Outgoing],
    retries: int,
    transactional_id: str | None = None,
    acked: Acked | None = None,
) -> None:
    """Return only once the broker has acknowledged every message; raise after ``retries``.
    ``acked``, if given, gets the last offset acknowledged in each partition.

    With ``transactional_id`` (exactly once) the messages go into that open transaction of
    Faust's, and a failure is not retried: a message sent again would be a second copy in the
    same transaction, so the worker stops and the transaction aborts instead.
    """
    if transactional_id is not None:
        transaction = getattr(producer, "_transaction_producers", {}).get(transactional_id)
        if transaction is None:
            raise DeliveryFailed(f"no open transaction {transactional_id} on this worker")
        failed = await send_batches(transaction, messages, acked)
        if failed:
            raise DeliveryFailed(f"{len(failed)} messages not acknowledged in {transactional_id}")
        return
    pending = messages
    for attempt in range(retries + 1):
        pending = await _send_all(producer, pending, acked)
        if not pending:
            return
        delay = min(0.1 * 2**attempt, 5.0)
        log.warning("%d messages not acknowledged; retrying in %.1f s", len(pending), delay)
        await asyncio.sleep(delay)
    raise DeliveryFailed(f"{len(pending)} messages not acknowledged after {retries} retries")

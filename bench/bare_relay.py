"""``python -m bench.bare_relay CLIENT``: the least a Python relay does with the raw requests.

It reads every raw request, splits it into its events with msgspec (each event left as raw
bytes, keyed by its user's raw ``userID``: no validation, no records, no metrics) and produces
one message per event, waiting for every acknowledgement before it commits a batch's offsets.
``aiokafka``: a batch of requests per fetch, its events handed over as whole record batches
per partition (the worker's own produce path, ``agents.kafka.delivery.send_batches``).
``librdkafka`` (confluent-kafka): ``consume(n)``, produce without waiting, delivery reports
only for failures, one flush per batch. The gap between the faster one and the worker is the
cost of the worker's own work.

When the output of the ``--requests``-th request is acknowledged it writes to ``--result``
the wall-clock times of its first request taken and of that moment, and the events it
produced, then exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import msgspec
from aiokafka import AIOKafkaConsumer

from agents.kafka.delivery import Outgoing, send_batches
from bench.broker import new_producer

BATCH_REQUESTS = 500
"""Requests taken per batch, as the worker's ``INGEST_BATCH_SIZE``."""
FETCH_BYTES = 8 * 1024 * 1024


class _User(msgspec.Struct):
    userID: msgspec.Raw = msgspec.Raw(b"")


class _Event(msgspec.Struct):
    user: _User | None = None


class _Request(msgspec.Struct):
    events: list[msgspec.Raw] = []


_requests = msgspec.json.Decoder(_Request)
_events = msgspec.json.Decoder(_Event)


def split(body: bytes) -> Iterator[tuple[bytes, bytes]]:
    """(key, event) of each event of a request body, the event's bytes as they came."""
    for raw in _requests.decode(body).events:
        user = _events.decode(raw).user
        yield bytes(user.userID) if user is not None else b"", bytes(raw)


@dataclass
class Result:
    first_taken: float = 0.0
    last_acked: float = 0.0
    requests: int = 0
    events: int = 0


async def relay_aiokafka(args: argparse.Namespace) -> Result:
    consumer = AIOKafkaConsumer(
        args.raw,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=FETCH_BYTES,
        fetch_max_bytes=4 * FETCH_BYTES,
    )
    producer = new_producer(args.bootstrap)
    await consumer.start()
    await producer.start()
    result = Result()
    deadline = time.monotonic() + args.timeout
    try:
        while result.requests < args.requests and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500, max_records=BATCH_REQUESTS)
            if not batch:
                continue
            result.first_taken = result.first_taken or time.time()
            out = [
                Outgoing(args.output, key, event, [])
                for records in batch.values()
                for record in records
                for key, event in split(record.value or b"")
            ]
            if await send_batches(producer, out):
                raise RuntimeError("output not acknowledged")
            await consumer.commit()
            result.requests += sum(len(records) for records in batch.values())
            result.events += len(out)
        result.last_acked = time.time()
    finally:
        await producer.stop()
        await consumer.stop()
    return result


def relay_librdkafka(args: argparse.Namespace) -> Result:
    from confluent_kafka import Consumer, KafkaError, Message, Producer

    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": args.group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.partition.fetch.bytes": FETCH_BYTES,
            # A lone member's join waits out the rebalance timeout on the embedded broker.
            "session.timeout.ms": 6000,
            "max.poll.interval.ms": 10000,
        }
    )
    producer = Producer(
        {
            "bootstrap.servers": args.bootstrap,
            "linger.ms": 5,
            "batch.size": 1024 * 1024,
            "acks": "all",
            "delivery.report.only.error": True,
        }
    )
    failures: list[KafkaError] = []

    def failed(error: KafkaError | None, message: Message) -> None:
        if error is not None:
            failures.append(error)

    consumer.subscribe([args.raw])
    result = Result()
    deadline = time.monotonic() + args.timeout
    try:
        while result.requests < args.requests and time.monotonic() < deadline:
            batch = consumer.consume(BATCH_REQUESTS, timeout=0.5)
            if not batch:
                continue
            result.first_taken = result.first_taken or time.time()
            for message in batch:
                if message.error() is not None:
                    raise RuntimeError(f"consume failed: {message.error()}")
                for key, event in split(message.value() or b""):
                    while True:
                        try:
                            producer.produce(args.output, event, key, on_delivery=failed)
                            break
                        except BufferError:  # the local queue is full: let it drain
                            producer.poll(0.01)
                    result.events += 1
            if producer.flush(args.timeout) or failures:
                raise RuntimeError(f"output not acknowledged: {failures[:3]}")
            consumer.commit(asynchronous=False)
            result.requests += len(batch)
        result.last_acked = time.time()
    finally:
        consumer.close()
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bare_relay")
    parser.add_argument("client", choices=("aiokafka", "librdkafka"))
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--raw", required=True, help="the raw topic, pre-loaded")
    parser.add_argument("--output", required=True, help="the topic of the events")
    parser.add_argument("--group", required=True)
    parser.add_argument("--requests", type=int, required=True, help="stop after this many")
    parser.add_argument("--timeout", type=float, default=240.0)
    parser.add_argument("--result", type=Path, required=True)
    args = parser.parse_args(argv)
    if args.client == "aiokafka":
        result = asyncio.run(relay_aiokafka(args))
    else:
        result = relay_librdkafka(args)
    args.result.write_text(json.dumps(asdict(result)))
    return 0 if result.requests >= args.requests else 1


if __name__ == "__main__":
    sys.exit(main())

"""CLI verbs on the app: ``produce`` sample traffic to the raw topic, ``tail`` an output topic."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from pathlib import Path

import click
from aiokafka import AIOKafkaConsumer, TopicPartition
from faust.cli import AppCommand, argument, option

from agents.app import app, settings
from agents.delivery import Outgoing, deliver
from agents.topics import OUTPUT_TOPICS, raw_events
from processor.samples import sample_requests

_CHUNK = 200


def _bodies(file: str | None, count: int, events: int, seed: int, now_ms: int) -> list[bytes]:
    if file is None:
        return sample_requests(count, events_per_request=events, seed=seed, now_ms=now_ms)
    lines = Path(file).read_bytes().splitlines()
    return [line for line in lines if line.strip()]


def _chunks(items: list[bytes], size: int) -> Iterator[list[bytes]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@app.command(
    option("--file", "-f", default=None, help="JSONL file: one request body per line."),
    option("--count", "-n", default=100, show_default=True, help="Generated requests to send."),
    option("--events", default=50, show_default=True, help="Events per generated request."),
    option("--seed", default=0, show_default=True, help="Seed of the generated mix."),
    option(
        "--clock-skew-ms",
        default=0,
        show_default=True,
        help="Pretend the client's clock is this far behind (+) or ahead (-) of ours.",
    ),
)
async def produce(
    self: AppCommand, file: str | None, count: int, events: int, seed: int, clock_skew_ms: int
) -> None:
    """Send request bodies to the raw topic, as HTTP ingress would."""
    client_now = int(time.time() * 1000) - clock_skew_ms
    bodies = _bodies(file, count, events, seed, client_now)
    topic = raw_events.get_topic_name()
    await raw_events.maybe_declare()
    with click.progressbar(
        length=len(bodies), label=f"producing to {topic}", file=sys.stderr
    ) as bar:
        for chunk in _chunks(bodies, _CHUNK):
            headers = [
                ("statsig-client-time", str(int(time.time() * 1000) - clock_skew_ms).encode()),
                ("statsig-source", b"cli"),
            ]
            await deliver(
                app.producer,
                [Outgoing(topic, None, body, headers) for body in chunk],
                settings.send_retries,
            )
            bar.update(len(chunk))
    click.echo(f"sent {len(bodies)} requests to {topic}", err=True)


async def _print_records(topic: str, count: int, follow: bool, idle_timeout: float) -> int:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.bootstrap_servers(), enable_auto_commit=False
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
        if not partitions:
            raise click.ClickException(f"topic {topic} does not exist yet")
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        end = await consumer.end_offsets(partitions)
        printed = 0
        idle_since = time.monotonic()
        while time.monotonic() - idle_since < idle_timeout:
            batch = await consumer.getmany(timeout_ms=200, max_records=500)
            for records in batch.values():
                idle_since = time.monotonic()
                for record in records:
                    click.echo((record.value or b"").decode("utf-8", "replace"))
                    printed += 1
                    if printed == count:
                        return printed
            caught_up = all([await consumer.position(tp) >= end[tp] for tp in partitions])
            if caught_up and not follow:
                return printed
        return printed
    finally:
        await consumer.stop()


@app.command(
    argument("topic", type=click.Choice(sorted(OUTPUT_TOPICS))),
    option("--count", "-n", default=0, help="Stop after this many records (0: no limit)."),
    option("--follow", "-f", is_flag=True, help="Keep waiting for new records."),
    option("--timeout", default=10.0, show_default=True, help="Stop after this many idle seconds."),
)
async def tail(self: AppCommand, topic: str, count: int, follow: bool, timeout: float) -> None:
    """Print the records of an output topic as JSON lines, oldest first."""
    name = OUTPUT_TOPICS[topic].get_topic_name()
    printed = await _print_records(name, count, follow, timeout)
    click.echo(f"{printed} records from {name}", err=True)

"""CLI verbs on the app: ``produce`` traffic, ``tail`` a topic, ``replay`` dead letters."""

from __future__ import annotations

import sys
import time
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import click
import orjson
from faust.cli import AppCommand, argument, option

from agents.app import app, settings
from agents.kafka.delivery import Outgoing, deliver
from agents.kafka.reading import TopicMissing, fetch_record, read_topic
from agents.topics import OUTPUT_TOPICS, dead_letters, raw_events
from processor.replay import REPLAY_OF, Replay, matches, replay_of
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
    producer = await app.maybe_start_producer()
    with click.progressbar(
        length=len(bodies), label=f"producing to {topic}", file=sys.stderr
    ) as bar:
        for chunk in _chunks(bodies, _CHUNK):
            headers = [
                ("statsig-client-time", str(int(time.time() * 1000) - clock_skew_ms).encode()),
                ("statsig-source", b"cli"),
            ]
            await deliver(
                producer,
                [Outgoing(topic, None, body, headers) for body in chunk],
                settings.send_retries,
            )
            bar.update(len(chunk))
    click.echo(f"sent {len(bodies)} requests to {topic}", err=True)


@app.command(
    argument("topic", type=click.Choice(sorted(OUTPUT_TOPICS))),
    option("--count", "-n", default=0, help="Stop after this many records (0: no limit)."),
    option("--follow", "-f", is_flag=True, help="Keep waiting for new records."),
    option("--timeout", default=10.0, show_default=True, help="Stop after this many idle seconds."),
)
async def tail(self: AppCommand, topic: str, count: int, follow: bool, timeout: float) -> None:
    """Print the records of an output topic as JSON lines, oldest first."""
    name = OUTPUT_TOPICS[topic].get_topic_name()
    printed = 0
    try:
        async for record in read_topic(name, follow, timeout):
            click.echo((record.value or b"").decode("utf-8", "replace"))
            printed += 1
            if printed == count:
                break
    except TopicMissing:
        raise click.ClickException(f"topic {name} does not exist yet") from None
    click.echo(f"{printed} records from {name}", err=True)


def _millis(value: str | None) -> int | None:
    """Milliseconds since the epoch, from digits or an ISO 8601 date-time (UTC if no zone)."""
    if value is None:
        return None
    if value.isdigit():
        return int(value)
    moment = datetime.fromisoformat(value)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


async def _replays(
    reasons: frozenset[str], since: int | None, until: int | None
) -> AsyncIterator[tuple[str, Replay]]:
    async for record in read_topic(dead_letters.get_topic_name(), False, 10.0):
        letter = orjson.loads(record.value or b"{}")
        if matches(letter, reasons, since, until):
            yield letter["reason"], replay_of(letter)


async def _resolved(replay: Replay) -> Outgoing:
    """The raw message to send; a body the dead letter left out is fetched from its origin."""
    topic = raw_events.get_topic_name()
    if replay.body is not None:
        return Outgoing(topic, None, replay.body, replay.headers)
    if replay.origin is None:
        raise click.ClickException("a dead letter without body or origin cannot be replayed")
    original = await fetch_record(*replay.origin)
    headers = [(name, value) for name, value in original.headers if name != REPLAY_OF]
    headers.append((REPLAY_OF, "/".join(map(str, replay.origin)).encode()))
    return Outgoing(topic, original.key, original.value or b"", headers)


@app.command(
    option(
        "--reason", "-r", multiple=True, help="Only dead letters with this reason (repeatable)."
    ),
    option("--since", default=None, help="Only those received at or after: ms or ISO 8601."),
    option("--until", default=None, help="Only those received before: ms or ISO 8601."),
    option("--dry-run", is_flag=True, help="Count what would be replayed; send nothing."),
)
async def replay(
    self: AppCommand, reason: tuple[str, ...], since: str | None, until: str | None, dry_run: bool
) -> None:
    """Send dead letters back to the raw topic, e.g. after a fix to the worker or its settings."""
    selected = [item async for item in _replays(frozenset(reason), _millis(since), _millis(until))]
    by_reason = Counter(name for name, _ in selected)
    for name, count in sorted(by_reason.items()):
        click.echo(f"{name}: {count}", err=True)
    if dry_run:
        click.echo(f"dry run: {len(selected)} dead letters would be replayed", err=True)
        return
    producer = await app.maybe_start_producer()
    with click.progressbar(selected, label="replaying", file=sys.stderr) as items:
        for _, item in items:
            await deliver(producer, [await _resolved(item)], settings.send_retries)
    click.echo(f"replayed {len(selected)} dead letters to {raw_events.get_topic_name()}", err=True)

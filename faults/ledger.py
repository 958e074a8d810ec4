"""What a fault run should have produced, and what it did: lost and repeated outputs.

The expected output of every raw message is recomputed from the raw topic itself with the
worker's own pure core (``processor.process_request``, deterministic), so each missing output
is traced back to the raw message (partition, offset) it belonged to, and every repeat is
compared byte for byte with the first copy.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import orjson
from aiokafka import AIOKafkaConsumer, ConsumerRecord

from agents.kafka.metadata import topic_partitions
from processor import EventType, ProcessorConfig, process_request

OUTPUT_SUFFIXES = (*(f"events.{kind.value}" for kind in EventType), "events.invalid")
RAW_SUFFIX = "events.raw"

Record = ConsumerRecord[bytes, bytes]


def output_topics(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in OUTPUT_SUFFIXES]


@dataclass
class Outcome:
    """One run's accounting; ``lost_requests`` names the raw messages with missing output."""

    requests: int = 0
    expected: int = 0
    received: int = 0
    lost: int = 0
    duplicates: int = 0
    inexact_duplicates: int = 0
    lost_requests: list[tuple[int, int, int]] = field(default_factory=list)
    """(raw partition, raw offset, outputs missing) of each raw message not fully delivered."""
    raw_lost: int = 0
    """Requests acknowledged by the broker on the raw topic that it no longer holds."""
    counted_short: int = 0
    """Events the metric tables' counts are short of (event_counts, all windows): must be 0."""
    counted_twice: int = 0
    """Events the tables count more than once: repeats (at least once), never exactly once."""
    exactly_once: bool = False
    """Read with read_committed from a worker in exactly-once mode: no repeat is allowed."""

    @property
    def ok(self) -> bool:
        lost = self.lost or self.raw_lost or self.counted_short
        repeated = self.exactly_once and (self.duplicates or self.counted_twice)
        return not lost and not repeated and self.inexact_duplicates == 0


def _identity(topic: str, value: bytes) -> tuple[str, str]:
    """A per-type record by its timeUUID; a dead letter by its origin and event index."""
    if topic.endswith("events.invalid"):
        letter = orjson.loads(value)
        origin = letter.get("origin") or {}
        where = f"{origin.get('partition')}/{origin.get('offset')}"
        return ("invalid", f"{where}/{letter.get('index')}")
    return ("record", orjson.loads(value)["timeUUID"])


Expected = dict[tuple[str, str], tuple[int, int, str | None]]
"""An output's identity -> its raw (partition, offset) and, for a record, its event name."""


def expected_outputs(raw: Iterable[Record]) -> Expected:
    """Every output a worker makes of these raw messages (a request sent twice makes it once)."""
    config = ProcessorConfig()
    expected: Expected = {}
    for message in raw:
        result = process_request(
            message.value or b"",
            message.headers or (),
            message.timestamp,
            config,
            origin={
                "topic": message.topic,
                "partition": message.partition,
                "offset": message.offset,
            },
        )
        for record in result.records:
            identity = _identity("record", record.value)
            expected[identity] = (message.partition, message.offset, record.event_name)
        for letter in result.dead_letters:
            identity = _identity("events.invalid", letter.value)
            expected[identity] = (message.partition, message.offset, None)
    return expected


def account(
    raw: Sequence[Record],
    outputs: Sequence[Record],
    sent: Sequence[bytes] = (),
    counted: Counter[str] | None = None,
) -> Outcome:
    """Compare what the raw messages should have produced with the output topics' records, the
    raw topic with the request bodies ``sent`` to it (each acknowledged by the broker), and the
    metric tables' event counts (when ``counted``) with the events expected."""
    expected = expected_outputs(raw)
    first: dict[tuple[str, str], bytes] = {}
    held = Counter(message.value for message in raw)
    outcome = Outcome(
        requests=len(raw),
        expected=len(expected),
        received=len(outputs),
        raw_lost=sum((Counter(sent) - held).values()),
    )
    for record in outputs:
        value = record.value or b""
        identity = _identity(record.topic, value)
        held = first.setdefault(identity, value)
        if held is not value:
            outcome.duplicates += 1
            if held != value:
                outcome.inexact_duplicates += 1
    missing = Counter((p, o) for identity, (p, o, _) in expected.items() if identity not in first)
    outcome.lost = sum(missing.values())
    outcome.lost_requests = sorted((p, o, n) for (p, o), n in missing.items())
    if counted is not None:
        should = Counter(name for _, _, name in expected.values() if name is not None)
        outcome.counted_short = sum((should - counted).values())
        outcome.counted_twice = sum((counted - should).values())
    return outcome


async def _read_to_end(
    bootstrap: str, topics: Sequence[str], timeout: float, committed_only: bool
) -> list[Record]:
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap,
        enable_auto_commit=False,
        isolation_level="read_committed" if committed_only else "read_uncommitted",
        max_partition_fetch_bytes=8 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(bootstrap, topics)
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        records: list[Record] = []
        deadline = time.monotonic() + timeout
        # The high watermark of a fetch is right on every broker (the embedded one under-reports
        # list-offsets): read until each partition's position reaches it (read_committed: the
        # last stable offset, past which transactions are still open).
        end_of = consumer.last_stable_offset if committed_only else consumer.highwater
        while True:
            batch = await consumer.getmany(timeout_ms=300, max_records=20_000)
            for part in batch.values():
                records.extend(part)
            ends = [(end_of(tp), await consumer.position(tp)) for tp in partitions]
            if all(end is not None and position >= end for end, position in ends):
                return records
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {list(topics)} to their ends in {timeout} s")
    finally:
        await consumer.stop()


def read_to_end(
    bootstrap: str, topics: Sequence[str], timeout: float = 120.0, committed_only: bool = False
) -> list[Record]:
    """Every record of ``topics`` now, oldest first per partition (``committed_only``: as a
    read_committed consumer sees them, without those of aborted or open transactions)."""
    return asyncio.run(_read_to_end(bootstrap, topics, timeout, committed_only))


def table_counts(web_url: str, timeout: float = 60.0) -> Counter[str]:
    """The worker's event_counts table, every window summed, by event name (any worker answers
    for all partitions; while one has no owner, during a rebalance, it answers 503)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{web_url}/v1/metrics/event_counts", timeout=30) as answer:
                windows = orjson.loads(answer.read())["windows"]
            break
        except urllib.error.HTTPError as error:
            if error.code != 503 or time.monotonic() > deadline:
                raise
            time.sleep(1.0)
    counts: Counter[str] = Counter()
    for window in windows:
        counts[window["key"]["eventName"]] += window["value"]["count"]
    return counts


def settle(
    bootstrap: str,
    prefix: str,
    sent: Sequence[bytes],
    web_url: str | None = None,
    exactly_once: bool = False,
    timeout: float = 240.0,
    quiet_seconds: float = 5.0,
) -> Outcome:
    """Wait until nothing is missing (or ``timeout``), then ``quiet_seconds`` more so that late
    repeats show, and account for the run (with the metric tables of the worker at
    ``web_url``, when given; ``exactly_once``: reading only committed transactions, where no
    repeat may show)."""
    raw = read_to_end(bootstrap, [prefix + RAW_SUFFIX])

    def now() -> Outcome:
        counted = table_counts(web_url) if web_url else None
        outputs = read_to_end(bootstrap, output_topics(prefix), committed_only=exactly_once)
        outcome = account(raw, outputs, sent, counted)
        outcome.exactly_once = exactly_once
        return outcome

    deadline = time.monotonic() + timeout
    while (outcome := now()).lost or outcome.counted_short:
        if time.monotonic() > deadline:
            break
        time.sleep(2.0)
    time.sleep(quiet_seconds)
    return now()

"""Metric tables over tumbling windows of the corrected event time (DESIGN §5).

The flow, and why each table key is written from exactly one stream partition:

1. The ingest agent aggregates its whole batch in memory (``processor.metrics.aggregate``),
   groups the partial aggregates by the partition that owns their key (``key_partition``: a
   CRC-32 of the key, modulo the partials topic's partition count) and sends one
   ``<prefix>metrics.partials`` message per owning partition, with an explicit partition, in
   the same delivery as the batch's records (:func:`partial_messages`).
2. :func:`merge_partials` takes that topic's messages in batches (up to
   ``MERGE_BATCH_MESSAGES``, or what came within ``MERGE_BATCH_SECONDS``) and merges each
   partition's messages in memory first, so each key is written once per partition and batch.
   Faust writes a table change to the changelog partition of the stream's current event, set
   to one of the partition's messages while its keys are written; every key of a message
   belongs to that message's partition, so each key always lands in its own changelog
   partition, however many workers share the topic.
3. Each worker sends itself a tick on every partials partition it owns every
   ``METRICS_TICK_SECONDS`` (:func:`tick_owned_partitions`). A tick is processed like any other
   message of its partition: it closes the windows that are due (wall clock past window end +
   ``METRICS_GRACE_SECONDS``), sends their final values to ``<prefix>metrics.windows``, records
   the new boundary in :data:`closed_windows`, and forgets windows past
   ``METRICS_RETENTION_SECONDS``, all in the right changelog partition.

Why plain tables keyed by ``(window start, *key)`` and not Faust's windowed tables
(``app.Table(...).tumbling(...)``, faust-streaming 0.15): a windowed table can be written for an
explicit time (``table[key][(start, end)] = value`` or ``relative_to(...)``), but its closing
cannot carry this contract. It closes a window only when it expires, i.e. after the whole
retention, so there is no grace distinct from how long values stay readable; its close callback
is guarded by one ``last_closed_window`` shared by all partitions, so when two partitions close
the same window only the first one's callback runs; expiry state is built on writes only, so
windows recovered from the changelog after a restart never expire or close; and expiry deletes
from the store without a changelog tombstone. Closing on ticks in the stream keeps all of that
in the changelog and testable with small windows.

Delivery is at least once: a raw batch read again after a crash sends its partials again, and a
window closed just before a crash may be sent again with the same values.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any

import faust
import msgspec
from faust.types import TableT

from agents.app import EXACTLY_ONCE, app, barrier, checkpoint, settings
from agents.batches import events_by_partition, writing_as
from agents.changelog import Changes, deliver_changes
from agents.kafka.delivery import Outgoing, deliver
from agents.kafka.transactions import transactional_id
from agents.topics import metric_partials, metric_windows
from agents.web.console import ConsoleItem, recent_items, remember
from agents.web.routing import owned_partitions
from processor import ProcessedRequest
from processor.context import Headers
from processor.metrics import (
    Metric,
    MetricKey,
    Partial,
    WindowedPartial,
    aggregate,
    by_partition,
    combine,
    key_partition,
    merge_partial,
    split_late,
    window_record,
)

log = logging.getLogger(__name__)

POLICY = settings.metrics_window
PARTITIONS = settings.topic_partitions
MAX_MESSAGE_BYTES = 256 * 1024
"""A batch's partials for one partition are split into several messages beyond this size."""
MERGE_BATCH_MESSAGES = 1_000
MERGE_BATCH_SECONDS = 0.5
"""The merge agent takes up to this many partials messages, or what came within this time,
together: the tables then lag the output by this much at most, and under load each key is
written once per batch instead of once per message."""

_PARTIALS_TOPIC = metric_partials.get_topic_name()
_WINDOWS_TOPIC = metric_windows.get_topic_name()
checkpoint.track(_PARTIALS_TOPIC)


class Partials(msgspec.Struct, tag="partials"):
    """A partials-topic message: partial aggregates and Console items of one partition's keys."""

    partials: list[WindowedPartial]
    console: dict[str, list[ConsoleItem]] = {}


class Tick(msgspec.Struct, tag="tick"):
    """A partials-topic message that makes its partition close the windows that are due."""


_encode_message = msgspec.msgpack.Encoder().encode
_decode_message = msgspec.msgpack.Decoder(Partials | Tick).decode
_encode_partial = msgspec.msgpack.Encoder().encode
_decode_partial = msgspec.msgpack.Decoder(Partial).decode
_encode_json = msgspec.json.Encoder().encode
_TICK = _encode_message(Tick())


def _table(metric: Metric) -> TableT[tuple[Any, ...], bytes]:
    return app.Table(
        f"metrics-{metric.value.replace('_', '-')}",
        partitions=PARTITIONS,
        value_type=bytes,
        help=f"{metric.value}: (window start ms, *key) -> msgpack partial aggregate",
    )


#: One table per metric: (window start ms, *key parts) -> msgpack-encoded partial aggregate.
tables: dict[Metric, TableT[tuple[Any, ...], bytes]] = {metric: _table(metric) for metric in Metric}
#: partials partition -> start (ms) of its oldest open window: windows before it are closed.
closed_windows = app.Table("metrics-closed", partitions=PARTITIONS, value_type=int)


def _messages(
    partials: list[WindowedPartial], console: dict[str, list[ConsoleItem]]
) -> Iterator[bytes]:
    body = _encode_message(Partials(partials, console))
    entries: list[WindowedPartial | str] = [*partials, *console]
    if len(body) <= MAX_MESSAGE_BYTES or len(entries) < 2:
        yield body
        return
    half = len(entries) // 2
    for part in (entries[:half], entries[half:]):
        yield from _messages(
            [entry for entry in part if isinstance(entry, WindowedPartial)],
            {entry: console[entry] for entry in part if isinstance(entry, str)},
        )


def partial_messages(batch: Sequence[tuple[Headers, ProcessedRequest]]) -> list[Outgoing]:
    """A batch's partial aggregates and recent Console items: one message per owning partition
    (more only past ``MAX_MESSAGE_BYTES``), each with an explicit partition."""
    records = [record for _, result in batch for record in result.records]
    if not records:
        return []
    grouped = by_partition(aggregate(records, POLICY.size_ms), PARTITIONS)
    console: dict[int, dict[str, list[ConsoleItem]]] = {}
    for name, items in recent_items(batch, settings.console_events_per_name).items():
        console.setdefault(key_partition((name,), PARTITIONS), {})[name] = items
    return [
        Outgoing(_PARTIALS_TOPIC, None, body, [], partition)
        for partition in sorted(grouped.keys() | console.keys())
        for body in _messages(grouped.get(partition, []), console.get(partition, {}))
    ]


def _now_ms() -> int:
    return int(time.time() * 1000)


def open_from(partition: int, now_ms: int) -> int:
    """Start of the partition's oldest open window: by the clock, and never before a boundary
    already recorded (a worker with a slower clock does not reopen closed windows)."""
    by_clock = POLICY.open_from(now_ms)
    recorded = closed_windows.get(partition)
    return by_clock if recorded is None else max(by_clock, recorded)


TableKey = tuple[Any, ...]
"""A metric table's key: (window start ms, *metric key parts)."""


class WindowKeys:
    """Every metric table key by the partition that owns it and by its window start, so that
    closing a partition's windows reads those windows' keys only.

    A scan of every key of every table per partition took 122-135 ms for 250,000 keys (an hour
    of 60 s windows of ~1,000 keys per metric; bench section ``windows``), once a window,
    stopping the event loop. A key is held from its first write to its window's retention;
    one no longer in its table (a recovery's doing) is skipped when read.
    """

    def __init__(self) -> None:
        self._held: dict[int, dict[int, list[tuple[Metric, TableKey]]]] = {}

    def add(self, partition: int, metric: Metric, table_key: TableKey) -> None:
        """A key new to its table."""
        by_start = self._held.setdefault(partition, {})
        by_start.setdefault(table_key[0], []).append((metric, table_key))

    def starts(self, partition: int) -> list[int]:
        """The window starts the partition holds keys of, oldest first."""
        return sorted(self._held.get(partition, ()))

    def keys(self, partition: int, start: int) -> list[tuple[Metric, TableKey]]:
        return self._held.get(partition, {}).get(start, [])

    def forget(self, partition: int, start: int) -> None:
        """The window's keys, once deleted from their tables."""
        self._held.get(partition, {}).pop(start, None)

    @classmethod
    def of(cls, keys: Iterable[tuple[Metric, TableKey]], partitions: int) -> WindowKeys:
        """The index of distinct ``keys`` (one scan of the tables), each under its owner. A
        key read back from the ``rocksdb://`` store is a list (its JSON): held as a tuple. Each
        key's window list is found through its metric key, not through ``add``: the scan takes
        a tenth less time so (1.35-1.48 times the former close's scan against 1.56-1.58, bench
        section ``windows``, 250,000 keys)."""
        index = cls()
        owners: dict[MetricKey, dict[int, list[tuple[Metric, TableKey]]]] = {}
        for metric, read in keys:
            table_key = tuple(read)
            key = table_key[1:]
            by_start = owners.get(key)
            if by_start is None:
                owner = key_partition(key, partitions)
                by_start = owners[key] = index._held.setdefault(owner, {})
            held = by_start.get(table_key[0])
            if held is None:
                held = by_start[table_key[0]] = []
            held.append((metric, table_key))
        return index


_window_keys: WindowKeys | None = None
"""None: rebuilt from the tables at the next close (an assignment's recovery may have changed
any table)."""


def _held_window_keys() -> WindowKeys:
    global _window_keys
    if _window_keys is None:
        _window_keys = WindowKeys.of(
            ((metric, key) for metric, table in tables.items() for key in list(table.keys())),
            PARTITIONS,
        )
    return _window_keys


@app.on_partitions_assigned.connect
async def _forget_window_keys(app: Any, assigned: Any, **kwargs: Any) -> None:
    """Recovery may change any partition of the tables: the next close rebuilds the index."""
    global _window_keys
    _window_keys = None


def _merge_into(partial: WindowedPartial) -> None:
    table = tables[partial.metric]
    key = (partial.start, *partial.key)
    held = table.get(key)
    value = partial.value if held is None else merge_partial(_decode_partial(held), partial.value)
    table[key] = _encode_partial(value)
    if held is None and _window_keys is not None:
        _window_keys.add(key_partition(partial.key, PARTITIONS), partial.metric, key)


class Pending:
    """One partition's partials and Console items from consecutive messages, held in memory
    until written: each table key is then written (and sent to its changelog) once for all."""

    def __init__(self) -> None:
        self.partials: list[WindowedPartial] = []
        self.console: dict[str, list[ConsoleItem]] = {}

    def add(self, partition: int, message: Partials, now_ms: int) -> None:
        """Take a message's partials (those of closed windows as late counts) and items."""
        accepted, late = split_late(
            message.partials, open_from(partition, now_ms), POLICY.start(now_ms)
        )
        self.partials += accepted
        self.partials += late
        bound = settings.console_events_per_name
        for name, items in message.console.items():
            self.console[name] = [*items, *self.console.get(name, [])][:bound]

    def write(self) -> None:
        """Merge what is held into the tables, each key once, and forget it."""
        for partial in combine(self.partials):
            _merge_into(partial)
        for name, items in self.console.items():
            remember(name, items, settings.console_events_per_name)
        self.partials = []
        self.console = {}


def _window_outgoing(metric: Metric, key: MetricKey, start: int, held: bytes) -> Outgoing:
    record = window_record(
        metric, key, start, POLICY.size_ms, _decode_partial(held), with_sketch=True
    )
    return Outgoing(_WINDOWS_TOPIC, _encode_json([metric.value, *key]), _encode_json(record), [])


Writing = Callable[[], AbstractContextManager[None]]
"""Makes one of the partition's events the stream's current one for a block of table writes
that does not await (``agents.batches.writing_as``)."""


async def close_due_windows(
    partition: int, now_ms: int, writing: Writing, transaction: str | None = None
) -> int:
    """Send the final values of the partition's windows that closed since the last tick, then
    record the new boundary and forget windows past retention. Returns the records sent."""
    boundary = POLICY.open_from(now_ms)
    closed_before = closed_windows.get(partition)
    if closed_before is not None and boundary <= closed_before:
        return 0
    index = _held_window_keys()
    closing: list[Outgoing] = []
    with writing():
        for start in index.starts(partition):
            closes = start < boundary and (closed_before is None or start >= closed_before)
            expires = POLICY.expired(start, now_ms)
            if not (closes or expires):
                continue
            for metric, table_key in index.keys(partition, start):
                table = tables[metric]
                held = table.get(table_key)
                if held is None:  # no longer in the table
                    continue
                if closes:
                    closing.append(_window_outgoing(metric, table_key[1:], start, held))
                if expires:
                    del table[table_key]
            if expires:
                index.forget(partition, start)
    await deliver(app.producer, closing, settings.send_retries, transaction)
    with writing():
        closed_windows[partition] = boundary
    return len(closing)


async def merge_messages(
    partition: int, values: Sequence[bytes], writing: Writing, transaction: str | None = None
) -> None:
    """Merge one partition's partials messages, in order, into the tables: partials are held
    in memory and written at each tick, before it closes windows, and at the end."""
    pending = Pending()
    for value in values:
        try:
            message = _decode_message(value)
        except msgspec.DecodeError as exc:
            log.warning("skipping an unreadable %s message: %r", _PARTIALS_TOPIC, exc)
            continue
        if isinstance(message, Tick):
            with writing():
                pending.write()
            await close_due_windows(partition, _now_ms(), writing, transaction)
        else:
            pending.add(partition, message, _now_ms())
    with writing():
        pending.write()


@app.agent(metric_partials)
async def merge_partials(stream: faust.StreamT[bytes]) -> None:
    """Merge the partials messages taken together, partition by partition; close due windows
    on ticks. A partition's messages count as delivered once they are in the tables and the
    broker acknowledged those changes in the changelogs."""
    async for events in stream.take_events(MERGE_BATCH_MESSAGES, within=MERGE_BATCH_SECONDS):
        for partition, taken in events_by_partition(events).items():
            tp = taken[0].message.tp
            transaction = transactional_id(app, tp) if EXACTLY_ONCE else None
            try:
                async with barrier.delivering():
                    changes = Changes()
                    writing = functools.partial(writing_as, stream, taken[-1], changes)
                    values = [event.value for event in taken]
                    await merge_messages(partition, values, writing, transaction)
                    await deliver_changes(app, changes, settings.send_retries, transaction)
                    checkpoint.delivered(
                        (event.message.tp, event.message.offset) for event in taken
                    )
            except Exception as exc:
                # As in the ingest agent: stop uncommitted rather than skip past lost output.
                log.critical("metrics message failed; stopping the worker uncommitted: %r", exc)
                await app.crash(exc)
                raise


@app.timer(settings.metrics_tick_seconds)
async def tick_owned_partitions() -> None:
    """Tick every partials partition this worker owns, so idle partitions close windows too.

    A tick goes through the producer's plain sends, outside any transaction in exactly-once
    mode too: in a partition's open transaction it would stay unread (read_committed) until
    something else committed that transaction, and an idle partition's never would be.
    """
    for partition in sorted(owned_partitions()):
        await app.producer.send(_PARTIALS_TOPIC, None, _TICK, partition, None, None)

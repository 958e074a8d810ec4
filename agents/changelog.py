"""Table changes sent to their changelogs as a batch's record batches, not one Faust send each.

Faust sends every table change on its own: a future, a trip through its producer buffer's task,
a sensor call and an aiokafka ``send`` per key, and with aiokafka's 1 ms linger one batch's
changes leave in many produce requests. At 1,000 events/s on Apache Kafka (cProfile, 10 s) the
worker made ~31 changes and ~20 produce requests per one-request batch, and the per-change path
cost more of its main thread than ``process_request``.

While an agent writes its tables inside :func:`collecting` the changes are kept instead, the last
one per key (the changelog is compacted: only a key's last value counts on recovery, so a key
changed twice in a batch is sent once). The agent then sends them with :func:`deliver_changes`,
through ``agents.kafka.delivery`` like its records, and books its messages delivered only after
their acknowledgement: a commit never passes a change the broker does not have. (The ingest
agent, at least once, takes its next batch meanwhile: :class:`OneInFlight`.) The
tables' store learns each changelog partition's acknowledged offset, as Faust's own send
callback tells it (at once, or at the commit in transactional mode), so a RocksDB store
recovers from there. A change made outside :func:`collecting` goes Faust's own way.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import faust
from faust.types import TP, AppT

from agents.kafka.delivery import Acked, Header, Outgoing, deliver

log = logging.getLogger(__name__)

_ChangeKey = tuple[str, int, bytes | None]
"""(changelog topic, partition, serialized table key)."""


class Changes:
    """A batch's table changes, the last one per key, in the order keys were first changed."""

    def __init__(self) -> None:
        self.values: dict[_ChangeKey, tuple[bytes | None, list[Header]]] = {}
        self.tables: dict[str, CollectingTable] = {}

    def __len__(self) -> int:
        return len(self.values)

    def outgoing(self) -> list[Outgoing]:
        return [
            Outgoing(topic, key, value, headers, partition)
            for (topic, partition, key), (value, headers) in self.values.items()
        ]


_collecting: Changes | None = None


@contextmanager
def collecting(changes: Changes) -> Iterator[None]:
    """Keep the table changes made in the block in ``changes``; the block must not await (an
    agent running meanwhile would have its changes kept here)."""
    global _collecting
    outer, _collecting = _collecting, changes
    try:
        yield
    finally:
        _collecting = outer


def _header_list(headers: Any) -> list[Header]:
    if not headers:
        return []
    return list(headers.items()) if isinstance(headers, dict) else list(headers)


class CollectingTable(faust.Table):
    """Faust's table (the app's ``Table`` setting), its changes kept while :func:`collecting`."""

    def _collect(self, changes: Changes, key: Any, value: Any) -> int | None:
        """Keep the change (``value`` None: the key deleted); None if Faust must send it."""
        partition = self.partition_for_key(key)
        if partition is None:  # the producer's partitioner would pick: Faust's own path
            return None
        topic = self.changelog_topic
        name = topic.get_topic_name()
        key_bytes, headers = topic.prepare_key(key, self.key_serializer)
        if value is not None:
            value, headers = topic.prepare_value(value, self.value_serializer, headers=headers)
        changes.values[(name, partition, key_bytes)] = (value, _header_list(headers))
        changes.tables[name] = self
        return partition

    def on_key_set(self, key: Any, value: Any) -> None:
        changes = _collecting
        partition = None if changes is None else self._collect(changes, key, value)
        if partition is None:
            super().on_key_set(key, value)
            return
        self._maybe_set_key_ttl(key, partition)
        self._sensor_on_set(self, key, value)

    def on_key_del(self, key: Any) -> None:
        changes = _collecting
        partition = None if changes is None else self._collect(changes, key, None)
        if partition is None:
            super().on_key_del(key)
            return
        self._maybe_del_key_ttl(key, partition)
        self._sensor_on_del(self, key)


async def deliver_changes(
    app: AppT, changes: Changes, retries: int, transactional_id: str | None = None
) -> None:
    """Send the changes to their changelogs (in that transaction, exactly once), wait for every
    acknowledgement, and tell each table's store the offset its changelog partition reached."""
    if not changes:
        return
    acked: Acked = {}
    await deliver(app.producer, changes.outgoing(), retries, transactional_id, acked)
    for (topic, partition), offset in acked.items():
        store = changes.tables[topic].data
        tp = TP(topic, partition)
        if app.in_transaction:
            app.tables.persist_offset_on_commit(store, tp, offset)
        else:
            store.set_persisted_offset(tp, offset)


class OneInFlight:
    """A batch's changes on their way while the agent takes its next batch, at least once.

    The ingest agent's dedup changes would otherwise cost it a second round trip per batch,
    after its output's. Each delivery starts only once the previous one is acknowledged (a
    key's changes stay in order) and books its batch delivered after its own acknowledgement;
    a failure stops the worker, uncommitted.
    """

    def __init__(self) -> None:
        self._task: asyncio.Task[None] | None = None

    async def send(
        self, app: AppT, changes: Changes, retries: int, then: Callable[[], None]
    ) -> None:
        """Wait for the previous delivery, then start this one; ``then`` runs once it is
        acknowledged."""
        await self.wait()

        async def deliver_then() -> None:
            await deliver_changes(app, changes, retries)
            then()

        self._task = asyncio.create_task(deliver_then())
        self._task.add_done_callback(functools.partial(_crash_on_failure, app))

    async def wait(self) -> None:
        """Until the delivery in flight, if any, is acknowledged; raise if it failed."""
        task, self._task = self._task, None
        if task is not None:
            await task


_crashes: set[asyncio.Task[None]] = set()


def _crash_on_failure(app: AppT, task: asyncio.Task[None]) -> None:
    failure = None if task.cancelled() else task.exception()
    if failure is None:
        return
    log.critical("table changes not delivered; stopping the worker uncommitted: %r", failure)
    crash = asyncio.ensure_future(app.crash(failure))
    _crashes.add(crash)
    crash.add_done_callback(_crashes.discard)

"""Everything this worker changes in faust-streaming and aiokafka, in one place.

Checked against faust-streaming 0.15.3, aiokafka 0.14.0 and mode-streaming 0.7.1 (and read
against faust-streaming's master of 2026-08, which has the same code): :func:`install` refuses
any other version, because each fix wraps or replaces an internal method whose shape it relies
on. ``tests/unit/test_library_fixes.py`` has a test per fix that fails without it.

1. **Commits come from the checkpoint** (faust-streaming #606, "Wrong offset commit in case of
   gaps", open; fix PR #707 unmerged). Faust commits the end of the first consecutive run of
   acknowledged offsets, and fills "gaps" it infers from jumps in the offsets it reads. Its
   guard against a hole at the head (``min(acked) - committed > 1``) lets a single missing
   offset through, does nothing when no offset is committed yet, and a jump caused by a seek
   (records fetched before it arriving after it) is taken for a gap: offsets that never reached
   an agent get committed. Here the offset committed for a tracked topic is the
   :class:`~agents.kafka.checkpoint.Checkpoint`'s frontier instead: every record below it was
   fetched and its output acknowledged by the broker. Faust's own bookkeeping still runs (its
   lists are drained as before); when it would have committed further, a warning names both
   offsets. A worker that stops before its consumer thread started (a crash at start) has no
   assignment and adds nothing to Faust's own commit.
2. **Fetched records are booked, and records fetched before a seek are not delivered after
   it** (robinhood/faust #559: a record of an older fetch read after a seek makes a false gap
   and moves the read offset past records then dropped as already read). aiokafka hands out a
   partition's records in order from its position; each fetch is entered in the checkpoint, and
   every seek or reset of a position starts a new run there. A record of an older run is
   dropped before it reaches a stream: it is fetched again from the new position.
3. **The consumer's flow is stopped while recovery seeks** (faust-streaming #596, "A race
   condition in recovery causes unrecoverable gaps in acked offsets", open). Recovery resumes
   the stream partitions and the flow, seeks them to the committed offsets, then resumes the
   flow control, which clears every agent's queue: records fetched after the seek are thrown
   away and never fetched again. The flow is stopped first, so nothing is fetched until the
   queues are cleared; Faust resumes it at the end.
4. **A producer flush waits for every buffered message** (no upstream issue found). Table
   changelog writes made outside an agent's batch (``agents.changelog``) go through Faust's
   producer buffer; its ``flush()``, which runs before every commit, returns after 0.1 s
   without a send even while messages wait in it, and does not see the one being handed to
   aiokafka. The commit could then pass table updates not yet sent.
5. **A record lost on its way to an agent is fetched again.** Should a record still be dropped
   between the fetch and the agent by a path not covered above, the checkpoint's frontier waits
   on it; after ``STALL_SECONDS`` with later records of its partition delivered, the partition
   is sought back to the frontier (at least once: what follows is read again).
6. **Partitions never committed are read again from the beginning.** Faust seeks back to the
   committed offsets whenever it drops fetched records (a rebalance stops the flow while a fetch
   is in flight: "getmany called while flow not active"); aiokafka's ``seek_to_committed``
   leaves a partition without a committed offset where it is, so records fetched and dropped
   there were never read again. Those are sought to their beginning, the consumer's
   ``earliest`` reset.
7. **The fetch wait is a setting** (``FETCH_MAX_WAIT_MS``): Faust builds its consumer with
   aiokafka's fixed 1.5 s and no way to change it.
8. **Exactly once: a commit happens between batches, after the producer buffer is flushed**
   (no upstream issue found). In transactional mode Faust commits each partition's transaction
   whenever its commit timer fires: a batch half sent would be committed without its offsets,
   and table changelog writes still in Faust's producer buffer would land in the next
   transaction (Faust flushes that buffer before a commit only outside transactions). The
   commit waits at the :class:`~agents.kafka.transactions.CommitBarrier` for the batches in
   flight, flushes the buffer, then computes and commits the offsets.

9. **Exactly once: table recovery asks the broker where each changelog ends** (no upstream
   issue found). In transactional mode Faust takes a changelog partition's end from the last
   stable offset of the consumer's last fetch of it, which is unknown before that partition's
   first fetch: recovery then counted every changelog empty and started the tables empty (the
   fault harness saw the tables short after a kill). The end is asked with a ListOffsets
   request instead, which answers the last stable offset under read_committed.

10. **The livelock check skips a partition that has no position yet** (no upstream issue
   found). Faust's commit livelock detector reads every assigned partition's position from
   aiokafka every 2.5 commit intervals while no rebalance runs. Just after recovery seeks the
   stream partitions to their committed offsets, a partition has no position until the
   fetcher resolves it: aiokafka's ``position`` then fails an assertion and the consumer
   crashes the worker (the fault harness saw it once, 60 ms after "Ready"). Such a partition
   has nothing to verify yet; the next check verifies it.

Two more changes go through settings Faust offers rather than patches, and are listed here so
that this page answers "what does the worker change in Faust?":

11. **Declaring a topic waits until the brokers list it** (``agents/kafka/listed_topic.py``, the
   app's ``Topic`` setting): Apache Kafka answers CreateTopics before its metadata has the
   topic, and Faust subscribes at once (the raw topic went unassigned, or the tables' check
   crashed the worker with PartitionsMismatch).
12. **Changelog topics get the worker's topic config** (``agents.topics.configure_changelogs``:
   ``min.insync.replicas``): Faust has no app-wide topic config.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Any

import aiokafka
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import TopicPartitionState
from faust.exceptions import ConsumerNotStarted
from faust.tables.recovery import Recovery
from faust.transport.consumer import Consumer as FaustConsumer
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread
from faust.transport.drivers.aiokafka import Consumer as AIOKafkaConsumer
from faust.transport.producer import ProducerBuffer
from faust.types import TP, AppT, Message

from agents.kafka.checkpoint import Checkpoint
from agents.kafka.transactions import CommitBarrier

log = logging.getLogger(__name__)

CHECKED_VERSIONS = {"faust-streaming": "0.15.3", "aiokafka": "0.14.0", "mode-streaming": "0.7.1"}
STALL_SECONDS = 30.0
"""How long the frontier may wait on one record while later ones are delivered (fix 5)."""
_STALL_CHECK_SECONDS = 5.0

_checkpoint = Checkpoint()
_barrier = CommitBarrier()
_fetch_max_wait_ms = 1500

_faust_new_offset = FaustConsumer._new_offset
_faust_tps_with_pending_acks = FaustConsumer._filter_tps_with_pending_acks
_faust_force_commit = FaustConsumer.force_commit
_faust_wait_next_records = FaustConsumer._wait_next_records
_faust_getmany = FaustConsumer.getmany
_faust_fetch_records = AIOKafkaConsumerThread._fetch_records
_faust_create_worker_consumer = AIOKafkaConsumerThread._create_worker_consumer
_faust_highwaters = AIOKafkaConsumerThread._highwaters
_faust_verify_event_path = AIOKafkaConsumerThread.verify_event_path
_faust_on_recovery_completed = Recovery.on_recovery_completed
_faust_resume_streams = Recovery._resume_streams
_faust_send_pending = ProducerBuffer._send_pending
_faust_seek_to_committed = AIOKafkaConsumer.seek_to_committed
_aiokafka_seek = TopicPartitionState.seek
_aiokafka_reset_to = TopicPartitionState.reset_to


class UncheckedVersion(RuntimeError):
    """An installed library is not the version these fixes were checked against."""


def check_versions(version_of: Callable[[str], str] | None = None) -> None:
    """Refuse to run on library versions the fixes were not checked against."""
    version_of = version_of or importlib.metadata.version
    wrong = {
        name: installed
        for name, expected in CHECKED_VERSIONS.items()
        if (installed := version_of(name)) != expected
    }
    if wrong:
        found = ", ".join(f"{name} {version}" for name, version in sorted(wrong.items()))
        wanted = ", ".join(f"{name} {version}" for name, version in CHECKED_VERSIONS.items())
        raise UncheckedVersion(
            f"agents/kafka/library_fixes.py was checked against {wanted}, not {found}: "
            "install the versions of pyproject.toml, or check each fix against the new ones"
        )


# 1. Commits come from the checkpoint.


def _new_offset(self: FaustConsumer, tp: TP) -> int | None:
    faust_offset = _faust_new_offset(self, tp)  # drains Faust's own lists as before
    if not _checkpoint.tracks(tp.topic):
        return faust_offset
    safe = _checkpoint.committable(tp)
    if faust_offset is not None and safe is not None and faust_offset > safe:
        _checkpoint.passes_prevented += 1
        log.warning(
            "faust-streaming would commit %s[%d] at %d, past offset %d whose output is not "
            "acknowledged (faust-streaming #606); committing %d",
            tp.topic,
            tp.partition,
            faust_offset,
            safe,
            safe,
        )
    return safe


def _tps_with_pending_acks(self: FaustConsumer, topics: Any = None) -> Any:
    tps = set(_faust_tps_with_pending_acks(self, topics))
    try:
        assigned = self.assignment()
    except ConsumerNotStarted:  # a worker stopping before its consumer started owns nothing
        return iter(tps)
    for tp in _checkpoint.partitions():
        wanted = topics is None or tp in topics or tp.topic in topics
        if wanted and tp in assigned and _checkpoint.advanced(tp):
            tps.add(tp)
    return iter(tps)


# 2. Fetched records are booked; records of an older run are not delivered.


class _Fetched(dict):  # type: ignore[type-arg]
    """A fetch's records by partition, with the checkpoint run each was fetched in."""

    runs: dict[TP, int | None]


async def _fetch_records(
    self: AIOKafkaConsumerThread,
    consumer: aiokafka.AIOKafkaConsumer,
    active_partitions: Any,
    timeout: float | None = None,
    max_records: int | None = None,
) -> Mapping[Any, Any]:
    records = await _faust_fetch_records(
        self, consumer, active_partitions, timeout=timeout, max_records=max_records
    )
    fetched = _Fetched(records)
    fetched.runs = {}
    if records:
        # Read at once, with no await since the fetch returned: the positions are the ones
        # the client moved to by handing out exactly these records.
        assignment = consumer._fetcher._subscriptions.subscription.assignment
        for tp, batch in records.items():
            if _checkpoint.tracks(tp.topic):
                position = assignment.state_value(tp).position
                _checkpoint.fetched(tp, [record.offset for record in batch], position)
                fetched.runs[tp] = _checkpoint.run_of(tp)
    return fetched


async def _wait_next_records(self: FaustConsumer, timeout: float) -> Any:
    records, active = await _faust_wait_next_records(self, timeout)
    self._fetched_runs = getattr(records, "runs", {})  # type: ignore[attr-defined]
    return records, active


async def _getmany(self: FaustConsumer, timeout: float) -> AsyncIterator[tuple[TP, Message]]:
    async for tp, message in _faust_getmany(self, timeout):
        runs: dict[TP, int | None] = getattr(self, "_fetched_runs", {})
        if _checkpoint.is_stale(tp, runs.get(tp)):
            _checkpoint.stale_records_dropped += 1
            continue
        yield tp, message


def _position_set(state: TopicPartitionState, position: int) -> None:
    for tp, candidate in state._assignment._tp_state.items():
        if candidate is state:
            if _checkpoint.tracks(tp.topic):
                # aiokafka's own TopicPartition, as Faust's messages carry: a transaction's
                # commit refuses any other key type (Faust's TP is equal, but another class).
                _checkpoint.seeked(tp, position, owner=state)
            return


def _seek(self: TopicPartitionState, position: int) -> None:
    _aiokafka_seek(self, position)
    _position_set(self, position)


def _reset_to(self: TopicPartitionState, position: int) -> None:
    _aiokafka_reset_to(self, position)
    _position_set(self, position)


# 3. The flow is stopped while recovery seeks.


async def _on_recovery_completed(self: Recovery, generation_id: int = 0) -> None:
    self.app.consumer.stop_flow()
    await _faust_on_recovery_completed(self, generation_id)


async def _resume_streams(self: Recovery, generation_id: int = 0) -> None:
    self.app.consumer.stop_flow()
    await _faust_resume_streams(self, generation_id)


# 4. A flush waits for every buffered message.


async def _send_pending(self: ProducerBuffer, fut: Any) -> None:
    self._in_hand = getattr(self, "_in_hand", 0) + 1  # type: ignore[attr-defined]
    try:
        await _faust_send_pending(self, fut)
    finally:
        self._in_hand -= 1  # type: ignore[attr-defined]


async def _flush(self: ProducerBuffer) -> None:
    while self.size or getattr(self, "_in_hand", 0):
        if self.state != "running":
            raise RuntimeError("Cannot flush: Producer not Running")
        self.message_sent.clear()
        try:
            await asyncio.wait_for(self.message_sent.wait(), timeout=0.1)
        except TimeoutError:
            continue


# 5. A record lost on its way to an agent is fetched again.


async def refetch_stranded_records(app: AppT) -> None:
    """Seek each assigned partition whose frontier is stranded back to it."""
    consumer = app.consumer
    assigned = consumer.assignment()
    for stall in _checkpoint.stalls(STALL_SECONDS):
        if stall.partition not in assigned:
            continue
        tp = stall.partition
        log.warning(
            "%s[%d]: offset %d was fetched but never delivered for %.0f s while later ones "
            "were; reading the partition again from it",
            tp.topic,  # type: ignore[attr-defined]
            tp.partition,  # type: ignore[attr-defined]
            stall.offset,
            stall.seconds,
        )
        _checkpoint.refetches += 1
        await consumer.seek(tp, stall.offset)  # type: ignore[arg-type]


# 6. Partitions never committed are read again from the beginning.


async def _seek_to_committed_or_beginning(self: AIOKafkaConsumer) -> Mapping[Any, int]:
    committed = await _faust_seek_to_committed(self)
    changelogs = self.app.tables.changelog_topics
    never = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
    if never:
        await self._thread.seek_to_beginning(*never)
    return committed


# 7. The fetch wait is a setting.


def _create_worker_consumer(
    self: AIOKafkaConsumerThread, transport: Any
) -> aiokafka.AIOKafkaConsumer:
    consumer = _faust_create_worker_consumer(self, transport)
    # Read when the consumer starts and builds its fetcher.
    consumer._fetch_max_wait_ms = _fetch_max_wait_ms
    return consumer


# 8. Exactly once: a commit happens between batches, after the producer buffer is flushed.


async def _force_commit(
    self: FaustConsumer, topics: Any = None, start_new_transaction: bool = True
) -> bool:
    if not self.in_transaction:
        return await _faust_force_commit(self, topics, start_new_transaction)
    async with _barrier.committing():
        await self.app.producer.buffer.flush()
        return await _faust_force_commit(self, topics, start_new_transaction)


# 9. Exactly once: table recovery asks the broker where each changelog ends.


async def _highwaters(self: AIOKafkaConsumerThread, partitions: Any) -> Mapping[Any, int]:
    # The consumer's isolation level (read_committed in transactional mode) goes with the
    # request: the answer is the last stable offset, known before any fetch.
    return await self._ensure_consumer().end_offsets(partitions)  # type: ignore[no-any-return]


# 10. The livelock check skips a partition that has no position yet.


def _verify_event_path(self: AIOKafkaConsumerThread, now: float, tp: TP) -> None:
    assignment = self._ensure_consumer()._fetcher._subscriptions.subscription.assignment
    state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
    if state is not None and not state.has_valid_position:
        return None
    return _faust_verify_event_path(self, now, tp)


def install(
    app: AppT,
    checkpoint: Checkpoint,
    barrier: CommitBarrier,
    fetch_max_wait_ms: int,
    consumes: bool = True,
) -> None:
    """Apply every fix above, for ``app``, the ``checkpoint`` its agents report to and the
    ``barrier`` they deliver behind (``consumes``: False for a worker without a consumer, which
    has no stranded records to look for)."""
    global _checkpoint, _barrier, _fetch_max_wait_ms
    check_versions()
    _checkpoint = checkpoint
    _barrier = barrier
    _fetch_max_wait_ms = fetch_max_wait_ms
    FaustConsumer._new_offset = _new_offset  # type: ignore[method-assign]
    FaustConsumer._filter_tps_with_pending_acks = _tps_with_pending_acks  # type: ignore[method-assign]
    FaustConsumer.force_commit = _force_commit  # type: ignore[method-assign]
    FaustConsumer._wait_next_records = _wait_next_records  # type: ignore[method-assign]
    FaustConsumer.getmany = _getmany  # type: ignore[method-assign, assignment]
    AIOKafkaConsumerThread._fetch_records = _fetch_records  # type: ignore[method-assign]
    TopicPartitionState.seek = _seek  # type: ignore[method-assign]
    TopicPartitionState.reset_to = _reset_to  # type: ignore[method-assign]
    Recovery.on_recovery_completed = _on_recovery_completed  # type: ignore[method-assign]
    Recovery._resume_streams = _resume_streams  # type: ignore[method-assign]
    ProducerBuffer._send_pending = _send_pending  # type: ignore[method-assign]
    ProducerBuffer.flush = _flush  # type: ignore[method-assign]
    AIOKafkaConsumer.seek_to_committed = _seek_to_committed_or_beginning  # type: ignore[method-assign]
    AIOKafkaConsumerThread._create_worker_consumer = _create_worker_consumer  # type: ignore[method-assign]
    AIOKafkaConsumerThread._highwaters = _highwaters  # type: ignore[method-assign]
    AIOKafkaConsumerThread.verify_event_path = _verify_event_path  # type: ignore[method-assign]
    if consumes:
        app.timer(_STALL_CHECK_SECONDS)(refetch_stranded_records)

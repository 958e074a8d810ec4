"""Each fix of agents/kafka/library_fixes.py, on Faust's and aiokafka's own objects: every test
fails when its fix is not installed."""

from __future__ import annotations

import asyncio
import inspect
import time
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka import TopicPartition
from aiokafka.consumer.subscription_state import Assignment
from faust.exceptions import ConsumerNotStarted
from faust.transport.producer import ProducerBuffer
from faust.types import TP, Message

from agents.app import app, checkpoint
from agents.kafka import library_fixes
from agents.kafka.checkpoint import Checkpoint
from agents.kafka.transactions import CommitBarrier
from tests.unit.fresh_process import stdout_of

_names = iter(range(1_000_000))


def tracked_tp() -> TP:
    """A partition of a topic of its own, booked by the worker's checkpoint."""
    topic = f"unit-{next(_names)}.events.raw"
    checkpoint.track(topic)
    return TP(topic, 0)


def acked_by_faust(tp: TP, committed: int | None, offsets: list[int]) -> Any:
    """The worker's consumer, with Faust's own books saying ``offsets`` were acknowledged."""
    consumer = app.consumer
    consumer._committed_offset[tp] = committed
    consumer._acked[tp] = list(offsets)
    consumer._acked_index[tp] = set(offsets)
    return consumer


@pytest.mark.parametrize("committed", [50, None], ids=["committed 50", "never committed"])
def test_nothing_past_a_taken_but_undelivered_record_is_committed(committed: int | None) -> None:
    """faust-streaming #606: records 50-53 fetched, 51-53 delivered and acked, 50 taken and
    still in flight. Faust alone commits 54 (past 50); the worker commits 50."""
    tp = tracked_tp()
    checkpoint.seeked(tp, 50, owner="assignment")
    checkpoint.fetched(tp, [50, 51, 52, 53], position=54)
    checkpoint.delivered([(tp, 51), (tp, 52), (tp, 53)])
    consumer = acked_by_faust(tp, committed, [51, 52, 53])
    assert library_fixes._faust_new_offset(consumer, tp) == 54  # the upstream bug, as shipped

    consumer = acked_by_faust(tp, committed, [51, 52, 53])
    assert consumer._new_offset(tp) == 50
    checkpoint.delivered([(tp, 50)])
    assert consumer._new_offset(tp) == 54


def test_partitions_the_checkpoint_books_are_committed_without_faust_acks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = tracked_tp()
    checkpoint.seeked(tp, 0, owner="assignment")
    consumer = app.consumer
    consumer._acked.pop(tp, None)
    monkeypatch.setattr(consumer, "assignment", lambda: {tp})
    assert tp not in set(consumer._filter_tps_with_pending_acks())  # nothing new yet
    checkpoint.fetched(tp, [0, 1], position=2)
    checkpoint.delivered([(tp, 0), (tp, 1)])
    assert tp in set(consumer._filter_tps_with_pending_acks())
    assert tp in set(consumer._filter_tps_with_pending_acks({tp.topic}))
    assert tp not in set(consumer._filter_tps_with_pending_acks({"another-topic"}))


def test_a_worker_stopping_before_its_consumer_started_can_still_commit() -> None:
    """A worker stopped (or crashed) before its consumer thread started commits on its way
    out; the fix's look at the assignment raised ConsumerNotStarted there, and the stop
    itself crashed with a traceback that hid why the worker was stopping."""
    tp = tracked_tp()
    checkpoint.seeked(tp, 0, owner="assignment")
    checkpoint.fetched(tp, [0], position=1)
    checkpoint.delivered([(tp, 0)])
    consumer = app.consumer
    with pytest.raises(ConsumerNotStarted):
        consumer.assignment()  # the consumer of a unit test never started
    assert tp not in set(consumer._filter_tps_with_pending_acks())


def new_assignment(tp: TopicPartition) -> Assignment:
    """aiokafka's assignment of one partition (its states need a running loop)."""

    async def made() -> Assignment:
        return Assignment([tp])

    return asyncio.run(made())


def test_aiokafka_positions_set_by_seeks_and_resets_start_a_run() -> None:
    tp = tracked_tp()
    assignment = new_assignment(TopicPartition(tp.topic, 0))
    state = assignment.state_value(TopicPartition(tp.topic, 0))
    state.reset_to(7)  # the committed point, when the partition is assigned
    assert checkpoint.committable(tp) == 7
    [booked] = [each for each in checkpoint.partitions() if each == tp]
    assert type(booked) is TopicPartition  # what a transaction's commit takes as a key
    first_run = checkpoint.run_of(tp)
    state.seek(3)
    assert checkpoint.is_stale(tp, first_run)


def test_records_are_booked_with_the_position_the_fetch_left(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = tracked_tp()
    aio_tp = TopicPartition(tp.topic, 0)
    assignment = new_assignment(aio_tp)
    assignment.state_value(aio_tp).reset_to(10)
    assignment.state_value(aio_tp).consumed_to(16)  # what the fetch itself moved it to
    consumer = SimpleNamespace(
        _fetcher=SimpleNamespace(
            _subscriptions=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
        )
    )
    records = {aio_tp: [SimpleNamespace(offset=offset) for offset in (10, 12, 13)]}

    async def fetch(*args: Any, **kwargs: Any) -> Any:
        return records

    monkeypatch.setattr(library_fixes, "_faust_fetch_records", fetch)
    thread = app.consumer._thread
    fetched = asyncio.run(thread._fetch_records(consumer, {aio_tp}, timeout=0))
    assert fetched.runs == {aio_tp: checkpoint.run_of(tp)}
    checkpoint.delivered([(tp, 10), (tp, 12), (tp, 13)])
    assert checkpoint.committable(tp) == 16


def test_records_fetched_before_a_seek_never_reach_a_stream_after_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = tracked_tp()
    checkpoint.seeked(tp, 0, owner="assignment")
    consumer = app.consumer
    consumer._fetched_runs = {tp: checkpoint.run_of(tp)}
    delivered: list[int] = []

    async def faust_getmany(self: Any, timeout: float) -> Any:
        for offset in range(4):
            if offset == 2:
                checkpoint.seeked(tp, 0, owner="assignment")  # a seek in mid-iteration
            yield tp, SimpleNamespace(offset=offset)

    async def drain() -> None:
        async for _, message in consumer.getmany(0):
            delivered.append(message.offset)

    monkeypatch.setattr(library_fixes, "_faust_getmany", faust_getmany)
    asyncio.run(drain())
    assert delivered == [0, 1]


def test_recovery_seeks_with_the_consumer_flow_stopped(monkeypatch: pytest.MonkeyPatch) -> None:
    """faust-streaming #596: with the flow running, records fetched after the seek reach the
    agents' queues, which the flow control then clears."""
    seen: list[bool] = []

    async def faust_completion(self: Any, generation_id: int = 0) -> None:
        seen.append(self.app.consumer.flow_active)

    monkeypatch.setattr(library_fixes, "_faust_on_recovery_completed", faust_completion)
    app.consumer.resume_flow()
    asyncio.run(app.tables.recovery.on_recovery_completed(0))
    assert seen == [False]


def test_a_flush_waits_for_the_message_being_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    """Faust's flush returns after 0.1 s without a send, so a commit could pass a table update
    still on its way to the client."""
    sent: list[str] = []

    async def slow_send(self: Any, fut: Any) -> None:
        await asyncio.sleep(0.4)
        sent.append(fut)

    async def flush_one() -> None:
        buffer = ProducerBuffer()
        buffer.app = app
        await buffer.start()
        try:
            buffer.put("changelog write")  # type: ignore[arg-type]
            await asyncio.sleep(0)
            await buffer.flush()
            assert sent == ["changelog write"]
        finally:
            await buffer.stop()

    monkeypatch.setattr(library_fixes, "_faust_send_pending", slow_send)
    asyncio.run(flush_one())


def test_a_stranded_record_is_fetched_again(monkeypatch: pytest.MonkeyPatch) -> None:
    own = Checkpoint()
    own.track("raw")
    tp = TP("raw", 3)
    own.seeked(tp, 0, owner="assignment")
    own.fetched(tp, [0, 1, 2], position=3)
    own.delivered([(tp, 1), (tp, 2)])
    own.stalls(library_fixes.STALL_SECONDS, now=time.monotonic() - 100)
    seeks: list[tuple[TP, int]] = []

    async def seek(partition: TP, offset: int) -> None:
        seeks.append((partition, offset))

    stub = SimpleNamespace(consumer=SimpleNamespace(assignment=lambda: {tp}, seek=seek))
    monkeypatch.setattr(library_fixes, "_checkpoint", own)
    asyncio.run(library_fixes.refetch_stranded_records(stub))  # type: ignore[arg-type]
    assert seeks == [(tp, 0)]
    assert own.refetches == 1
    timers = {inspect.unwrap(task) for task in app._app_tasks}
    assert library_fixes.refetch_stranded_records in timers


def test_partitions_never_committed_are_read_again_from_the_beginning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    never, committed, changelog = TP("raw", 0), TP("raw", 1), TP("metrics-changelog", 0)
    rewound: list[TP] = []

    async def faust_seek(self: Any) -> dict[TP, int | None]:
        return {never: None, committed: 7, changelog: None}

    async def seek_to_beginning(*tps: TP) -> None:
        rewound.extend(tps)

    stub = SimpleNamespace(
        app=SimpleNamespace(tables=SimpleNamespace(changelog_topics={"metrics-changelog"})),
        _thread=SimpleNamespace(seek_to_beginning=seek_to_beginning),
    )
    monkeypatch.setattr(library_fixes, "_faust_seek_to_committed", faust_seek)
    asyncio.run(app.consumer.__class__.seek_to_committed(stub))  # type: ignore[arg-type]
    assert rewound == [never]


FETCH_WAIT_PROBE = """
import asyncio
from agents.app import app

async def built() -> None:
    consumer = app.consumer._thread._create_worker_consumer(app.transport)
    print(consumer._fetch_max_wait_ms)

asyncio.run(built())
"""


def fetch_wait_of_a_worker(**env: str) -> int:
    """The fetch wait of the consumer a worker builds, in a fresh process with ``env``."""
    unset = ("KAFKA_BROKER", "FETCH_MAX_WAIT_MS")
    return int(stdout_of(FETCH_WAIT_PROBE, lambda name: name in unset, **env).split()[-1])


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, 20),
        ({"FETCH_MAX_WAIT_MS": "1500"}, 1500),
        ({"KAFKA_BROKER": "kafka://127.0.0.1:9", "FETCH_MAX_WAIT_MS": "75"}, 75),
    ],
)
def test_the_consumer_waits_as_configured(env: dict[str, str], expected: int) -> None:
    assert fetch_wait_of_a_worker(**env) == expected


def test_the_worker_refuses_library_versions_the_fixes_were_not_checked_against(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    library_fixes.check_versions()  # the installed ones pass
    monkeypatch.setattr(library_fixes.importlib.metadata, "version", lambda name: "0.16.0")
    with pytest.raises(library_fixes.UncheckedVersion, match=r"faust-streaming 0\.16\.0"):
        library_fixes.install(app, Checkpoint(), CommitBarrier(), 1500)


# The loss itself, on Faust's own consume loop (Consumer._drain_messages): committed offset 62;
# recovery seeks back to it while a fetch from before the seek is still being handed out, whose
# record 62 the flow control has already cleared from the agent's queue. Faust delivers that
# fetch's 63 and 64 after the seek, so its read offset passes 62, drops the records fetched
# again from 62 as "already read", and commits 66: record 62 is never processed.


def message(tp: TP, offset: int) -> Message:
    return Message(tp.topic, tp.partition, offset, 0.0, 0, [], None, b"{}", None, tp=tp)


def drain_after_a_seek(
    tp: TP, fixed: bool, monkeypatch: pytest.MonkeyPatch
) -> tuple[list[int], Any]:
    """Run Faust's consume loop, on a consumer of the app's transport, over two fetches around
    a seek back to 62; return the offsets its callback (the agents) received, each then
    processed and acknowledged, and the consumer."""
    checkpoint.seeked(tp, 62, owner="assignment")  # the committed point, at assignment
    checkpoint.fetched(tp, [62, 63, 64], position=65)
    fetches = [[63, 64], [62, 63, 64, 65]]  # 62 of the first was cleared from the queue
    delivered: list[int] = []

    async def consume() -> Any:
        async def agent(received: Message) -> None:
            delivered.append(received.offset)
            consumer.ack(received)
            checkpoint.delivered([(tp, received.offset)])

        async def no_rebalance(*args: Any) -> None:
            return None

        consumer = app.transport.Consumer(
            app.transport,
            callback=agent,
            on_partitions_revoked=no_rebalance,
            on_partitions_assigned=no_rebalance,
            loop=asyncio.get_running_loop(),
        )
        fetcher = SimpleNamespace(_stopped=asyncio.Event())

        async def scripted_getmany(*args: Any, **kwargs: Any) -> Any:
            offsets = fetches.pop(0)
            if fetches:  # the fetch from before the seek, handed out while recovery seeks
                consumer._fetched_runs = {tp: checkpoint.run_of(tp)}
                checkpoint.seeked(tp, 62, owner="assignment")
            else:  # the fetch from the committed offset, after the seek
                checkpoint.fetched(tp, offsets, position=offsets[-1] + 1)
                consumer._fetched_runs = {tp: checkpoint.run_of(tp)}
                fetcher._stopped.set()
            for offset in offsets:
                yield tp, message(tp, offset)

        consumer._read_offset[tp] = 62  # what Faust's perform_seek sets
        consumer._committed_offset[tp] = 62
        if fixed:
            monkeypatch.setattr(library_fixes, "_faust_getmany", scripted_getmany)
            consumer.getmany = lambda timeout: library_fixes._getmany(consumer, timeout)
        else:
            consumer.getmany = scripted_getmany
        await consumer._drain_messages(fetcher)
        return consumer

    consumer = asyncio.run(consume())
    return delivered, consumer


@pytest.fixture(autouse=True)
def _acks_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app.topics, "acks_enabled_for", lambda topic: True)


def test_faust_alone_drops_the_record_a_seek_rewound_to_and_commits_past_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = tracked_tp()
    delivered, consumer = drain_after_a_seek(tp, False, monkeypatch)
    assert 62 not in delivered
    assert library_fixes._faust_new_offset(consumer, tp) == 66  # record 62 is lost


def test_with_the_fixes_the_record_is_delivered_and_nothing_passes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tp = tracked_tp()
    delivered, consumer = drain_after_a_seek(tp, True, monkeypatch)
    assert delivered == [62, 63, 64, 65]  # the stale 63 and 64 never reached the agent
    assert consumer._new_offset(tp) == 66


def test_recovery_in_transactions_asks_the_broker_where_changelogs_end() -> None:
    """Exactly once, Faust reads a changelog's end from its last fetch: before the first fetch
    of a partition that is unknown, and the table was taken for empty."""
    tp = TopicPartition("app-metrics-event-counts-changelog", 2)

    class NeverFetched:
        def last_stable_offset(self, partition: TopicPartition) -> None:
            return None  # no fetch of it yet

        async def end_offsets(self, partitions: list[TopicPartition]) -> dict[Any, int]:
            return {partition: 870 for partition in partitions}  # ListOffsets, read_committed

    thread = SimpleNamespace(
        consumer=SimpleNamespace(in_transaction=True), _ensure_consumer=lambda: NeverFetched()
    )
    faust_alone = asyncio.run(library_fixes._faust_highwaters(thread, [tp]))  # type: ignore[arg-type]
    assert faust_alone == {tp: None}  # recovery counts that as an empty changelog
    highwaters = asyncio.run(app.consumer._thread.__class__._highwaters(thread, [tp]))
    assert highwaters == {tp: 870}


def test_the_livelock_check_skips_a_partition_not_positioned_yet() -> None:
    """Right after recovery seeks a partition, aiokafka has no position for it until the
    fetcher resolves one; Faust's livelock check read it anyway and crashed the consumer."""
    tp = TP("app.events.raw", 1)

    async def new_assignment() -> Assignment:  # aiokafka makes its futures on a running loop
        return Assignment({TopicPartition(tp.topic, tp.partition)})

    assignment = asyncio.run(new_assignment())  # no position yet
    consumer = SimpleNamespace(
        _fetcher=SimpleNamespace(
            _subscriptions=SimpleNamespace(subscription=SimpleNamespace(assignment=assignment))
        )
    )
    faust_app = SimpleNamespace(
        monitor=SimpleNamespace(stream_inbound_time={}),
        topics=SimpleNamespace(acks_enabled_for=lambda topic: True),
    )
    thread = SimpleNamespace(
        _verify_aiokafka_event_path=lambda now, tp: False,
        consumer=SimpleNamespace(app=faust_app),
        time_started=time.monotonic(),
        tp_stream_timeout_secs=300.0,
        _ensure_consumer=lambda: consumer,
    )
    state = assignment.state_value(TopicPartition(tp.topic, tp.partition))
    state.highwater = 40  # fetched metadata, position still unset
    with pytest.raises(AssertionError):
        library_fixes._faust_verify_event_path(thread, time.monotonic(), tp)  # type: ignore[arg-type]
    verify = app.consumer._thread.__class__.verify_event_path
    assert verify(thread, time.monotonic(), tp) is None

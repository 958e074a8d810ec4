"""Closing a partition's windows reads only its windows' keys (``agents.metrics.WindowKeys``),
and closes and forgets exactly what a scan of every table key would."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

import agents.app  # first: it imports the agents in their order
from agents import metrics
from agents.batches import writing_as
from agents.changelog import Changes
from agents.kafka.delivery import Outgoing
from processor.metrics import Count, Metric, WindowedPartial, key_partition

PARTITIONS = metrics.PARTITIONS
POLICY = metrics.POLICY

table_keys = st.tuples(
    st.sampled_from(list(Metric)),
    st.tuples(
        st.integers(0, 5).map(lambda n: n * POLICY.size_ms),
        st.text(min_size=1, max_size=6),
        st.text(max_size=3),
    ),
)


@given(st.lists(table_keys, max_size=40, unique=True))  # a table's keys are distinct
def test_the_index_holds_each_key_under_its_owner_and_window(
    keys: list[tuple[Metric, tuple[Any, ...]]],
) -> None:
    index = metrics.WindowKeys.of(keys, PARTITIONS)
    for partition in range(PARTITIONS):
        expected: dict[int, set[tuple[Metric, tuple[Any, ...]]]] = {}
        for metric, table_key in keys:
            if key_partition(tuple(table_key[1:]), PARTITIONS) == partition:
                expected.setdefault(table_key[0], set()).add((metric, table_key))
        assert index.starts(partition) == sorted(expected)
        for start, held in expected.items():
            assert sorted(index.keys(partition, start)) == sorted(held)


def test_keys_read_back_as_lists_are_held_as_tuples() -> None:
    """The rocksdb:// store gives its keys back as JSON lists (a worker on it crashed with
    "unhashable type: 'list'" at its first close)."""
    index = metrics.WindowKeys.of([(Metric.EVENT_COUNTS, [0, "a"])], PARTITIONS)
    owner = key_partition(("a",), PARTITIONS)
    assert index.keys(owner, 0) == [(Metric.EVENT_COUNTS, (0, "a"))]


def test_a_forgotten_window_holds_no_key() -> None:
    key = (Metric.EVENT_COUNTS, (0, "a"))
    owner = key_partition(("a",), PARTITIONS)
    index = metrics.WindowKeys.of([key], PARTITIONS)
    index.forget(owner, 0)
    index.forget(owner, 0)  # a second time: nothing left to forget
    assert index.starts(owner) == []
    assert index.keys(owner, 0) == []


async def _in_a_stream(block: Any) -> None:
    """Await ``block(stream, event)`` with an event taken from a real Faust stream."""
    app = agents.app.app
    app.flow_control.resume()
    channel = app.channel()
    stream = channel.stream()
    await channel.send(value=b"x")
    async for event in stream.events():
        await block(stream, event)
        break


def _names_of(partition: int, count: int, tag: str) -> list[str]:
    """``count`` event names whose metric keys ``partition`` owns."""
    names = (f"{tag}-{n}" for n in range(10_000))
    return [name for name in names if key_partition((name,), PARTITIONS) == partition][:count]


def _closed(sent: Sequence[Outgoing]) -> set[bytes]:
    return {message.key for message in sent if message.key is not None}


def test_a_close_sends_and_forgets_what_a_scan_of_every_key_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = 1_000 * POLICY.size_ms + 7
    boundary = POLICY.open_from(now)
    expired = POLICY.start(now - POLICY.size_ms - POLICY.retention_ms)
    closing, still_open = boundary - POLICY.size_ms, boundary
    partition = 1
    mine, theirs = _names_of(partition, 3, "own"), _names_of(partition + 1, 2, "other")
    sent: list[Outgoing] = []

    async def captured(producer: Any, messages: Sequence[Outgoing], *args: Any) -> None:
        sent.extend(messages)

    monkeypatch.setattr(metrics, "deliver", captured)

    def merge(names: list[str], start: int) -> None:
        for name in names:
            metrics._merge_into(WindowedPartial(Metric.EVENT_COUNTS, (name,), start, Count(1)))

    def held(names: list[str], start: int) -> bool:
        return all((start, name) in metrics.tables[Metric.EVENT_COUNTS] for name in names)

    async def run(stream: Any, event: Any) -> None:
        writing = functools.partial(writing_as, stream, event, Changes())
        with writing():
            metrics.closed_windows[partition] = expired
            merge(mine + theirs, expired)
            merge(mine + theirs, closing)
        metrics._window_keys = None  # as after an assignment: the index is built by a scan
        with writing():
            merge(mine + theirs, still_open)  # written while no index is held
        await metrics.close_due_windows(partition, now, writing)
        assert len(sent) == 2 * len(mine)  # the expired window and the closing one: its own
        assert not held(mine, expired) and held(theirs, expired)
        assert held(mine, closing) and held(mine + theirs, still_open)

        sent.clear()
        later = now + POLICY.size_ms
        with writing():
            merge(mine, boundary + POLICY.size_ms)  # a new key, indexed as it is written
        await metrics.close_due_windows(partition, later, writing)
        assert len(sent) == len(mine)  # the window that was open before, only
        assert _closed(sent) == {
            metrics._encode_json([Metric.EVENT_COUNTS.value, name]) for name in mine
        }
        assert metrics._window_keys is not None
        assert set(metrics._window_keys.keys(partition, boundary + POLICY.size_ms)) == {
            (Metric.EVENT_COUNTS, (boundary + POLICY.size_ms, name)) for name in mine
        }

    asyncio.run(_in_a_stream(run))

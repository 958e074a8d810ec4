"""A batch's table changes are kept for one delivery, the last per key; outside a batch they go
Faust's own way. Both on the worker's own tables and Faust's own producer buffer."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents.app import app
from agents.batches import writing_as
from agents.changelog import Changes, CollectingTable
from agents.dedup import delivered_requests
from agents.kafka.delivery import Outgoing
from agents.metrics import closed_windows


def in_a_stream(block: Callable[[Any, Any], None]) -> None:
    """Run ``block(stream, event)`` with an event taken from a real Faust stream."""

    async def take() -> None:
        app.flow_control.resume()
        channel = app.channel()
        stream = channel.stream()
        await channel.send(value=b"x")
        async for event in stream.events():
            block(stream, event)
            break

    asyncio.run(take())


def buffered() -> int:
    """Messages waiting in Faust's producer buffer, where its table changes go."""
    return app.producer.buffer.pending.qsize()


def test_the_worker_tables_collect_their_changes() -> None:
    assert isinstance(delivered_requests, CollectingTable)
    assert isinstance(closed_windows, CollectingTable)


def test_a_batch_keeps_the_last_change_per_key_and_sends_nothing_itself() -> None:
    changes = Changes()
    before = buffered()

    def write(stream: Any, event: Any) -> None:
        with writing_as(stream, event, changes):
            delivered_requests[b"first"] = b"v1"
            delivered_requests[b"gone"] = b"v"
            delivered_requests[b"first"] = b"v2"
            del delivered_requests[b"gone"]
            closed_windows[3] = 60_000

    in_a_stream(write)
    assert buffered() == before
    changelog = delivered_requests.changelog_topic.get_topic_name()
    closed = closed_windows.changelog_topic.get_topic_name()
    assert changes.outgoing() == [
        Outgoing(changelog, b"first", b"v2", [], 0),
        Outgoing(changelog, b"gone", None, [], 0),
        Outgoing(closed, b"3", b"60000", [], 0),
    ]
    assert delivered_requests.get(b"first") == b"v2"
    assert b"gone" not in delivered_requests
    assert changes.tables == {changelog: delivered_requests, closed: closed_windows}


def test_a_change_outside_a_batch_goes_through_faust() -> None:
    before = buffered()

    def write(stream: Any, event: Any) -> None:
        delivered_requests[b"alone"] = b"v"

    in_a_stream(write)
    assert buffered() == before + 1

"""Writing tables from a batch of several partitions without corrupting the next batch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from agents.app import app
from agents.batches import events_by_partition, writing_as
from agents.changelog import Changes


def batches_around_a_table_write(write: Callable[[Any, Any], None]) -> list[list[bytes]]:
    """Take two batches from a stream with Faust's ``take_events``; while the first is being
    processed, a fourth value arrives, and ``write`` sets the stream's current event as a table
    write of the batch must. Returns the values of each batch's events."""

    async def take() -> list[list[bytes]]:
        app.flow_control.resume()
        channel = app.channel()
        stream = channel.stream()
        for value in (b"1", b"2", b"3"):
            await channel.send(value=value)
        batches: list[list[bytes]] = []
        async for events in stream.take_events(10, within=0.3):
            batches.append([event.value for event in events])
            if len(batches) == 2:
                break
            await channel.send(value=b"4")
            await asyncio.sleep(0.1)  # the stream takes it in and waits for this batch to end
            write(stream, events[-1])
        return batches

    return asyncio.run(take())


def test_a_value_arriving_during_a_table_write_keeps_its_own_event() -> None:
    def write(stream: Any, event: Any) -> None:
        with writing_as(stream, event, Changes()):
            pass

    assert batches_around_a_table_write(write) == [[b"1", b"2", b"3"], [b"4"]]


def test_faust_pairs_the_next_value_with_whatever_event_is_current() -> None:
    """Why ``writing_as`` restores the event: set and left, the next batch repeats the last
    event of this one and loses the value that arrived."""

    def write(stream: Any, event: Any) -> None:
        stream._set_current_event(event)

    assert batches_around_a_table_write(write) == [[b"1", b"2", b"3"], [b"3"]]


def test_events_are_grouped_by_partition_in_order() -> None:
    class Message:
        def __init__(self, partition: int, offset: int) -> None:
            self.partition, self.offset = partition, offset

    class Event:
        def __init__(self, partition: int, offset: int) -> None:
            self.message = Message(partition, offset)

    events = [Event(1, 5), Event(0, 7), Event(1, 6), Event(0, 8)]
    grouped = events_by_partition(events)  # type: ignore[arg-type]
    assert {p: [e.message.offset for e in evs] for p, evs in grouped.items()} == {
        1: [5, 6],
        0: [7, 8],
    }

"""Batches of stream events, as the agents take them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from faust.types import EventT, StreamT

from agents.changelog import Changes, collecting


def events_by_partition(events: Sequence[EventT]) -> dict[int, list[EventT]]:
    """A batch's events grouped by the partition they came from, each group in order."""
    grouped: dict[int, list[EventT]] = {}
    for event in events:
        grouped.setdefault(event.message.partition, []).append(event)
    return grouped


@contextmanager
def writing_as(stream: StreamT[Any], event: EventT, changes: Changes) -> Iterator[None]:
    """Make ``event`` the stream's current one while the block writes tables, then restore it;
    the block must not await (the stream would set its next event meanwhile). The changes are
    kept in ``changes``, for the agent to deliver (``agents.changelog``).

    Faust sends a table change to the changelog partition of the stream's current event, so a
    batch of several partitions must set it to one of each partition's events before writing
    that partition's keys. It must then be put back: ``take_events`` pairs the value it buffers
    next with ``stream.current_event`` when it resumes, and a value that arrived while the batch
    was being processed would otherwise be paired with this event instead of its own (the
    batch then holds one event twice and misses one).
    """
    previous = stream.current_event
    stream._set_current_event(event)  # type: ignore[attr-defined]
    try:
        with collecting(changes):
            yield
    finally:
        stream._set_current_event(previous)  # type: ignore[attr-defined]

"""Batches of stream events, as the agents take them."""

from __future__ import annotations

from collections.abc import Sequence

from faust.types import EventT


def events_by_partition(events: Sequence[EventT]) -> dict[int, list[EventT]]:
    """A batch's events grouped by the partition they came from, each group in order."""
    grouped: dict[int, list[EventT]] = {}
    for event in events:
        grouped.setdefault(event.message.partition, []).append(event)
    return grouped

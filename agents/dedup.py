"""The dedup window: a request delivered in the last ``DEDUP_WINDOW_SECONDS`` is not emitted
again (DESIGN §3).

A request's identity (key id, decompressed body: ``ProcessedRequest.identity``) is the same for
an SDK's retry, a replay and a redelivery. HTTP ingress keys each raw message by it, so every
repeat reaches the partition that took the first; the identities a partition delivered live in
a changelog-backed table partition of its own (the raw topic's partition, which the assignor
gives to the same worker), so they survive a restart and follow the partition when it moves.

A replay (``python -m agents replay``, marked by its ``statsig-replay-of`` header) is an
operator's deliberate second try of a request, after a fix, of what went to the dead letters the
first time: it is never taken for a repeat. Replaying the same dead letter twice emits its
events twice, with the same timeUUIDs.

An identity is written only after the broker acknowledged its request's output, and its
changelog write is acknowledged before the raw message counts as delivered (its offset may be
committed): a crash before that makes the redelivery a repeat of the output, never a loss.
Identities older than the window are deleted (with their changelog tombstones) as each
partition's traffic passes. Finding them reads only what expired: the identities are also kept
in delivery order per partition, in memory, rebuilt from the table by one scan after each
assignment (recovery may have changed the table).
"""

from __future__ import annotations

import logging
import struct
from collections import deque
from collections.abc import Sequence
from typing import Any

import faust
from faust.types import EventT

from agents.app import app, settings
from agents.batches import events_by_partition, writing_as
from agents.changelog import Changes
from processor import ProcessedRequest
from processor.replay import is_replay

log = logging.getLogger(__name__)

_ENTRY = struct.Struct(">qH")
"""A table value: when the request was delivered (ms) and the raw partition it came from."""

WINDOW_MS = settings.dedup_window_ms
SWEEP_EVERY_MS = max(1_000, WINDOW_MS // 10)
"""How often a partition's expired identities are deleted."""

delivered_requests = app.Table(
    "dedup-requests",
    partitions=settings.topic_partitions,
    key_type=bytes,
    value_type=bytes,
    help="request identity -> (delivered at ms, raw partition), for DEDUP_WINDOW_SECONDS",
)
_last_sweep: dict[int, int] = {}
_delivery_order: dict[int, deque[tuple[int, bytes]]] | None = None
"""Per raw partition, (delivered at ms, identity) in delivery order; None: rebuild from the
table at the next sweep."""


def _within_window(entry: bytes | None, now_ms: int) -> bool:
    return entry is not None and now_ms - _ENTRY.unpack(entry)[0] < WINDOW_MS


def first_deliveries(
    events: Sequence[EventT], results: Sequence[ProcessedRequest], now_ms: int
) -> list[bool]:
    """For each raw message of a batch: True unless it repeats a request delivered within the
    window (before, or earlier in this batch) and is not a replay."""
    first: list[bool] = []
    in_batch: set[bytes] = set()
    for event, result in zip(events, results, strict=True):
        identity = result.identity
        repeat = not is_replay(event.message.headers or ()) and (
            identity in in_batch or _within_window(delivered_requests.get(identity), now_ms)
        )
        if repeat:
            message = event.message
            log.debug(
                "not emitting %s[%d]@%d again: request %s was delivered within %d s",
                message.topic,
                message.partition,
                message.offset,
                identity.hex(),
                WINDOW_MS // 1000,
            )
        in_batch.add(identity)
        first.append(not repeat)
    return first


def remember(
    stream: faust.StreamT[bytes],
    events: Sequence[EventT],
    results: Sequence[ProcessedRequest],
    now_ms: int,
) -> Changes:
    """Record the identities of requests whose output the broker acknowledged, each in its raw
    partition's table partition, and delete what the window no longer covers; return those
    changes, for the caller to deliver (``agents.changelog``)."""
    changes = Changes()
    identities = {id(event): result.identity for event, result in zip(events, results, strict=True)}
    grouped = events_by_partition(events)
    expired = _expired(now_ms, set(grouped))
    for partition, taken in grouped.items():
        order = None if _delivery_order is None else _delivery_order.setdefault(partition, deque())
        with writing_as(stream, taken[-1], changes):
            # Expired first: an expired identity delivered again in this batch is kept.
            for identity in expired.get(partition, ()):
                del delivered_requests[identity]
            for event in taken:
                identity = identities[id(event)]
                delivered_requests[identity] = _ENTRY.pack(now_ms, partition)
                if order is not None:
                    order.append((now_ms, identity))
    return changes


def _rebuilt_order() -> dict[int, deque[tuple[int, bytes]]]:
    """Every partition's identities in the table, oldest delivery first: one scan."""
    by_partition: dict[int, list[tuple[int, bytes]]] = {}
    for identity, entry in delivered_requests.items():
        delivered_at, partition = _ENTRY.unpack(entry)
        by_partition.setdefault(partition, []).append((delivered_at, identity))
    return {partition: deque(sorted(held)) for partition, held in by_partition.items()}


def _expired(now_ms: int, partitions: set[int]) -> dict[int, list[bytes]]:
    """Identities past the window, of those of ``partitions`` not swept for a while: the
    oldest of each partition's delivery order, still in the table as that delivery."""
    global _delivery_order
    due = {p for p in partitions if now_ms - _last_sweep.get(p, 0) >= SWEEP_EVERY_MS}
    if not due:
        return {}
    if _delivery_order is None:
        _delivery_order = _rebuilt_order()
    found: dict[int, list[bytes]] = {}
    for partition in due:
        _last_sweep[partition] = now_ms
        order = _delivery_order.get(partition)
        expired: dict[bytes, None] = {}
        while order and now_ms - order[0][0] >= WINDOW_MS:
            delivered_at, identity = order.popleft()
            # Delivered again since (a replay, or a new partition's): that delivery's turn.
            if delivered_requests.get(identity) == _ENTRY.pack(delivered_at, partition):
                expired[identity] = None
        if expired:
            found[partition] = list(expired)
    return found


@app.on_partitions_assigned.connect
async def _forget_delivery_order(app: Any, assigned: Any, **kwargs: Any) -> None:
    """Recovery may change any partition of the table: the next sweep rebuilds the order."""
    global _delivery_order
    _delivery_order = None

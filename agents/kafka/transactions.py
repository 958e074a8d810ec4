"""Exactly once (``PROCESSING_GUARANTEE=exactly_once``): one transaction per partition and batch.

Faust's transactional mode keeps one transactional producer per assigned partition number of
the co-partitioned topics (transactional id ``{app id}-{group}-{partition}``: the raw topic,
the partials topic and every table's changelog share the group) and, at each commit, sends the
consumed offsets of that partition to its transaction and commits it. The workers use it so:

- the ingest agent delivers the records, dead letters and metric partials of raw partition q
  through q's producer (:func:`transactional_id`), so they commit or abort with q's offsets;
- the merge agent's table changes (changelog writes) and closed windows of partials partition p
  go through p's producer, with p's offsets;
- a commit (the offsets computed from the checkpoint, then each transaction committed with
  them) happens only between batches (:class:`CommitBarrier`): never with half a batch sent,
  whose offsets it would not carry (after a crash the batch would be read again and its first
  half emitted twice), and only once the producer buffer is flushed into the transactions
  (a batch delivers its own table changes, ``agents.changelog``; a change made outside a batch
  waits in that buffer).

Consumers that read with ``isolation.level=read_committed`` then see each event once, and the
metric tables after a crash equal those of an uninterrupted run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from faust.types import TP, AppT


def transactional_id(app: AppT, tp: TP) -> str:
    """The transactional id Faust gives the producer of ``tp``'s partition (as it commits)."""
    return f"{app.conf.id}-{app.assignor.group_for_topic(tp.topic)}-{tp.partition}"


class CommitBarrier:
    """Any number of batches being delivered, or one commit: never both. A commit waiting goes
    first (batches not yet begun wait for it), so commits are not starved under load."""

    def __init__(self) -> None:
        self._delivering = 0
        self._commits_waiting = 0
        self._condition: asyncio.Condition | None = None

    @property
    def _cond(self) -> asyncio.Condition:
        # Made in the worker's running loop, not at import.
        if self._condition is None:
            self._condition = asyncio.Condition()
        return self._condition

    @asynccontextmanager
    async def delivering(self) -> AsyncIterator[None]:
        """While a batch is sent and marked delivered."""
        async with self._cond:
            await self._cond.wait_for(lambda: not self._commits_waiting)
            self._delivering += 1
        try:
            yield
        finally:
            async with self._cond:
                self._delivering -= 1
                self._cond.notify_all()

    @asynccontextmanager
    async def committing(self) -> AsyncIterator[None]:
        """While the consumed offsets are computed and their transactions committed."""
        async with self._cond:
            self._commits_waiting += 1
            try:
                await self._cond.wait_for(lambda: not self._delivering)
                yield
            finally:
                self._commits_waiting -= 1
                self._cond.notify_all()

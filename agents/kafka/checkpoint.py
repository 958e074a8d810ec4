"""Which consumed offsets are safe to commit: those of records whose output the broker has.

A consumed offset may be committed only when every record before it, from where the consumer
started reading, has been processed and its output acknowledged. Two facts make that decision,
and this module keeps both, per partition, without any Kafka or Faust import:

- **what the fetches returned** (:meth:`Checkpoint.fetched`): the Kafka client hands out a
  partition's records in order, from its position on; the offsets it steps over (transaction
  markers, compacted or deleted records) hold no record. So a run of fetches since the last
  seek says exactly which records lie between two offsets.
- **what was delivered** (:meth:`Checkpoint.delivered`): an agent reports a record once the
  broker acknowledged all of its output.

The committable offset of a partition (:meth:`Checkpoint.committable`) is its *frontier*: every
record below it was delivered, and the first record at or above it was not (or was not fetched
yet). A record fetched but never delivered (dropped on the way to an agent, or whose agent
failed) holds the frontier back however many later records are delivered: the commit can lag,
never pass it. A seek (:meth:`Checkpoint.seeked`) starts a new run of fetches; a new assignment
of the partition starts its bookkeeping anew.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field


@dataclass
class _Partition:
    frontier: int
    """Every record below this offset, since the start of the bookkeeping, was delivered."""
    start: int
    """Where the bookkeeping of this assignment started: nothing is committed before the
    frontier moves past it."""
    fetched_to: int
    """The client's position after the last fetch of the current run."""
    pending: deque[int] = field(default_factory=deque)
    """Offsets of fetched records at or above the frontier, in order, not yet passed."""
    delivered: set[int] = field(default_factory=set)
    """Delivered offsets at or above the frontier, waiting for the frontier to reach them."""
    run: int = 0
    """Incremented at every seek: records fetched in an earlier run are stale."""
    owner: object = None
    """The client's state object of this assignment: another one means a new assignment."""
    stall: tuple[int, float] | None = None
    """(frontier, when first seen) while later records than the frontier's were delivered."""

    def advance(self) -> None:
        pending = self.pending
        delivered = self.delivered
        while pending and pending[0] in delivered:
            delivered.discard(pending.popleft())
        if pending:
            self.frontier = pending[0]
        elif self.fetched_to > self.frontier:
            self.frontier = self.fetched_to


@dataclass(frozen=True)
class Stall:
    """A partition whose frontier waits on a record while later records were delivered."""

    partition: Hashable
    offset: int
    seconds: float


class Checkpoint:
    """The per-partition ledger of fetched and delivered records; safe across threads (the
    Kafka client fetches on a thread of its own)."""

    def __init__(self) -> None:
        self._partitions: dict[Hashable, _Partition] = {}
        self._topics: set[str] = set()
        self._lock = threading.Lock()
        self.passes_prevented = 0
        """Commits Faust computed past an undelivered record, which the checkpoint held back."""
        self.stale_records_dropped = 0
        """Records fetched before a seek of their partition and not delivered after it."""
        self.refetches = 0
        """Seeks back to a frontier whose record was lost on its way to the agent."""

    def track(self, topic: str) -> None:
        """Keep the books of ``topic``'s partitions: its agent reports what it delivered."""
        self._topics.add(topic)

    def tracks(self, topic: str) -> bool:
        return topic in self._topics

    def seeked(self, tp: Hashable, position: int, owner: object = None) -> None:
        """The client's position of ``tp`` was set to ``position`` (a seek or a reset); ``owner``
        identifies the assignment (a new one forgets what the previous one knew)."""
        with self._lock:
            state = self._partitions.get(tp)
            if state is None or state.owner is not owner:
                self._partitions[tp] = _Partition(position, position, position, owner=owner)
                return
            state.run += 1
            state.pending.clear()
            state.fetched_to = position
            if position > state.frontier:
                # Forward past undelivered records: the client skips them on purpose (a reset
                # after they were deleted by retention); nothing below is read any more.
                state.frontier = position
                state.delivered = {offset for offset in state.delivered if offset >= position}

    def run_of(self, tp: Hashable) -> int | None:
        """The current run of ``tp`` (None when not tracked), to tag records as they are fetched."""
        state = self._partitions.get(tp)
        return None if state is None else state.run

    def fetched(self, tp: Hashable, offsets: Iterable[int], position: int) -> None:
        """One fetch of ``tp`` in the current run returned records at ``offsets`` (ascending) and
        left the client at ``position``."""
        with self._lock:
            state = self._partitions.get(tp)
            if state is None:
                return
            frontier = state.frontier
            state.pending.extend(offset for offset in offsets if offset >= frontier)
            state.fetched_to = max(state.fetched_to, position)
            state.advance()

    def is_stale(self, tp: Hashable, run: int | None) -> bool:
        """Whether a record fetched in ``run`` of ``tp`` predates its latest seek."""
        state = self._partitions.get(tp)
        return state is not None and run is not None and run != state.run

    def delivered(self, records: Iterable[tuple[Hashable, int]]) -> None:
        """The broker acknowledged all output of these (partition, offset) records."""
        with self._lock:
            touched: set[Hashable] = set()
            for tp, offset in records:
                state = self._partitions.get(tp)
                if state is not None and offset >= state.frontier:
                    state.delivered.add(offset)
                    touched.add(tp)
            for tp in touched:
                self._partitions[tp].advance()

    def committable(self, tp: Hashable) -> int | None:
        """The offset to commit for ``tp`` (the next one to read), or None when not tracked."""
        state = self._partitions.get(tp)
        return None if state is None else state.frontier

    def advanced(self, tp: Hashable) -> bool:
        """Whether ``tp``'s frontier moved since its assignment began: else nothing is new to
        commit (and, exactly once, its transaction may not even be open yet)."""
        state = self._partitions.get(tp)
        return state is not None and state.frontier != state.start

    def partitions(self) -> list[Hashable]:
        with self._lock:
            return list(self._partitions)

    def stalls(self, older_than: float, now: float | None = None) -> list[Stall]:
        """Partitions whose frontier has waited on one undelivered record for ``older_than``
        seconds while later records of theirs were delivered: a record lost on its way to the
        agent, which only a seek back to the frontier brings again."""
        now = time.monotonic() if now is None else now
        found: list[Stall] = []
        with self._lock:
            for tp, state in self._partitions.items():
                if not state.pending or not state.delivered:
                    state.stall = None
                elif state.stall is None or state.stall[0] != state.frontier:
                    state.stall = (state.frontier, now)
                elif now - state.stall[1] >= older_than:
                    found.append(Stall(tp, state.frontier, now - state.stall[1]))
        return found

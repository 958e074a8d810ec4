"""Re-read dropped records also from partitions that never had a committed offset.

Faust seeks back to the committed offsets whenever it drops records it has fetched (a rebalance
stops the flow while a fetch is in flight, "getmany called while flow not active"), and at the
end of every rebalance. aiokafka's ``seek_to_committed`` leaves a partition with no committed
offset where it is, so records fetched and dropped from such a partition (a new topic, before
its first commit) were never read again. This seeks those partitions to their beginning, the
``earliest`` reset the consumer uses anyway: they are read again, at least once, as elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faust.transport.drivers.aiokafka import Consumer

_seek_to_committed = Consumer.seek_to_committed


async def _seek_to_committed_or_beginning(self: Consumer) -> Mapping[Any, int]:
    committed = await _seek_to_committed(self)
    changelogs = self.app.tables.changelog_topics
    never = [tp for tp, offset in committed.items() if not offset and tp.topic not in changelogs]
    if never:
        await self._thread.seek_to_beginning(*never)
    return committed


Consumer.seek_to_committed = _seek_to_committed_or_beginning  # type: ignore[method-assign]

"""Topics whose declaration returns only once the cluster's metadata lists them.

Apache Kafka (KRaft) answers a CreateTopics request before the brokers' metadata has the new
topic. Faust creates the worker's topics and at once subscribes to them: on a fresh Kafka the
group leader assigned partitions without the new topics ("Topic ... not found in cluster
metadata") and the tables' check then crashed the worker (PartitionsMismatch: "the changelog
topic ... has 0 partitions"). The embedded broker lists a topic as soon as it has created it.
The app uses this class for every topic (Faust's ``Topic`` setting), changelogs included.

A topic that already exists keeps its partition count (CreateTopics leaves it as it is). For the
topics the worker consumes and the tables' changelogs, Faust needs the worker's count (it
co-partitions them): otherwise the worker waited here in vain, then ran on the other count or
stopped on Faust's bare PartitionsMismatch. The declaration refuses them first and says why.
A producer that writes the raw topic before any worker has created it, on a Kafka that
auto-creates topics, makes one with the broker's default count.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable

import faust
from aiokafka.errors import KafkaError

from agents.kafka.metadata import cluster_metadata

log = logging.getLogger(__name__)

LISTED_TIMEOUT = 30.0
_POLL_SECONDS = 0.1


async def wait_until_listed(
    bootstrap: list[str], topics: Iterable[str], partitions: int, timeout: float = LISTED_TIMEOUT
) -> bool:
    """Until the metadata lists each topic with ``partitions`` partitions; False on timeout."""
    wanted = set(topics)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            cluster = await cluster_metadata(bootstrap)
        except KafkaError:
            cluster = None
        if cluster is not None and all(
            len(cluster.partitions_for_topic(topic) or ()) >= partitions for topic in wanted
        ):
            return True
        await asyncio.sleep(_POLL_SECONDS)
    return False


class PartitionCountMismatch(RuntimeError):
    """A topic the worker co-partitions exists with another partition count than its own."""


#: Topics whose partition count must be the worker's (besides changelogs): those it consumes.
COPARTITIONED: set[str] = set()


def _copartitioned(topic: str) -> bool:
    return topic in COPARTITIONED or topic.endswith("-changelog")


async def refuse_other_counts(bootstrap: list[str], topics: Iterable[str], partitions: int) -> None:
    """Raise ``PartitionCountMismatch`` if one of ``topics`` the worker co-partitions exists
    with a partition count other than ``partitions``; warn for the others."""
    try:
        cluster = await cluster_metadata(bootstrap)
    except KafkaError as exc:
        log.warning("could not check the partitions of %s: %r", ", ".join(topics), exc)
        return
    for topic in topics:
        count = len(cluster.partitions_for_topic(topic) or ())
        if count in (0, partitions):
            continue
        if not _copartitioned(topic):
            log.warning(
                "topic %s has %d partitions, not TOPIC_PARTITIONS=%d", topic, count, partitions
            )
            continue
        raise PartitionCountMismatch(
            f"topic {topic} exists with {count} partitions, and this worker needs "
            f"TOPIC_PARTITIONS={partitions} (its tables' changelogs have as many). Was it "
            "auto-created by a producer before any worker created it? Delete it and let the "
            f"worker create it, or give it {partitions} partitions, or set "
            f"TOPIC_PARTITIONS={count} for a new deployment (an existing one keeps its "
            "changelogs' count)."
        )


class ListedTopic(faust.Topic):
    """A Faust topic whose ``declare`` refuses an existing topic of another partition count
    and waits until the brokers list what it created."""

    async def declare(self) -> None:
        bootstrap = [f"{url.host}:{url.port or 9092}" for url in self.app.conf.broker]
        partitions = self.partitions or self.app.conf.topic_partitions
        if self.app.conf.topic_allow_declare:
            await refuse_other_counts(bootstrap, self.topics, partitions)
        await super().declare()
        if not self.app.conf.topic_allow_declare:
            return
        if not await wait_until_listed(bootstrap, self.topics, partitions):
            log.warning(
                "topics %s not listed by the brokers %.0f s after creation",
                ", ".join(self.topics),
                LISTED_TIMEOUT,
            )

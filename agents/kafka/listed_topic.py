"""Topics whose declaration returns only once the cluster's metadata lists them.

Apache Kafka (KRaft) answers a CreateTopics request before the brokers' metadata has the new
topic. Faust creates the worker's topics and at once subscribes to them: on a fresh Kafka the
group leader assigned partitions without the new topics ("Topic ... not found in cluster
metadata") and the tables' check then crashed the worker (PartitionsMismatch: "the changelog
topic ... has 0 partitions"). The embedded broker lists a topic as soon as it has created it.
The app uses this class for every topic (Faust's ``Topic`` setting), changelogs included.
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


class ListedTopic(faust.Topic):
    """A Faust topic whose ``declare`` waits until the brokers list what it created."""

    async def declare(self) -> None:
        await super().declare()
        if not self.app.conf.topic_allow_declare:
            return
        bootstrap = [f"{url.host}:{url.port or 9092}" for url in self.app.conf.broker]
        partitions = self.partitions or self.app.conf.topic_partitions
        if not await wait_until_listed(bootstrap, self.topics, partitions):
            log.warning(
                "topics %s not listed by the brokers %.0f s after creation",
                ", ".join(self.topics),
                LISTED_TIMEOUT,
            )

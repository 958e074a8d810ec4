"""Fresh cluster metadata (brokers, topics, partitions, leaders), outside any consumer.

An aiokafka consumer's own metadata covers only the topics it tracks: on Apache Kafka none until
it is assigned some, because an empty metadata request names no topic there (the embedded
broker answers it with every topic), so ``partitions_for_topic`` knows nothing of a topic that
exists. Asking for every topic afresh works on both.
"""

from __future__ import annotations

from collections.abc import Iterable

from aiokafka import TopicPartition
from aiokafka.client import AIOKafkaClient
from aiokafka.cluster import ClusterMetadata


async def cluster_metadata(bootstrap: str | list[str], timeout_ms: int = 5000) -> ClusterMetadata:
    """The brokers and every topic, as the cluster answers now."""
    client = AIOKafkaClient(bootstrap_servers=bootstrap, request_timeout_ms=timeout_ms)
    try:
        await client.bootstrap()
        return await client.fetch_all_metadata()
    finally:
        await client.close()


async def topic_partitions(
    bootstrap: str | list[str], topics: Iterable[str]
) -> list[TopicPartition]:
    """Every partition of those of ``topics`` that exist now."""
    cluster = await cluster_metadata(bootstrap)
    return [
        TopicPartition(topic, partition)
        for topic in topics
        for partition in sorted(cluster.partitions_for_topic(topic) or ())
    ]

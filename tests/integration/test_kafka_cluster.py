"""A three-node Apache Kafka: two workers in one group on it, and its fault operations.

The worker's topics get three replicas and ``min.insync.replicas=2``; the group coordinator's
own view says which member owns each raw partition; totals and records are exact without faults.
The cluster object kills, pauses, resumes and restarts a node as a fault harness would.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
from aiokafka.coordinator.protocol import ConsumerProtocolMemberAssignment

from agents.kafka.apache_kafka import LocalKafka, partition_leaders
from agents.kafka.embedded_broker import free_port
from tests.integration.kafka_io import create_topic, produce, read_topics
from tests.integration.test_metrics import (
    RECOVERED,
    SCALE_OUT_ENV,
    counts_of,
    expected,
    generated,
    until,
)
from tests.integration.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.slow

PARTITIONS = 4
REQUESTS, EVENTS_PER_REQUEST = 80, 25


async def _raw_owners(bootstrap: str, group: str, raw_topic: str) -> list[set[int]]:
    """The raw partitions of each member of ``group``, as the group coordinator hands them out."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (response,) = await admin.describe_consumer_groups([group])
        (described,) = response.to_object()["groups"]
        owned = []
        for member in described["members"]:
            assignment = ConsumerProtocolMemberAssignment.decode(member["member_assignment"])
            owned.append(
                {p for topic, parts in assignment.assignment if topic == raw_topic for p in parts}
            )
        return owned
    finally:
        await admin.close()


async def _topic_facts(bootstrap: str, topic: str) -> tuple[int, str]:
    """(replicas of partition 0, the topic's min.insync.replicas) as the brokers report them."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        (description,) = await admin.describe_topics([topic])
        replicas = len(description["partitions"][0]["replicas"])
        (configs,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        (resource,) = configs.to_object()["resources"]
        values = {
            entry["config_names"]: entry["config_value"] for entry in resource["config_entries"]
        }
        return replicas, values["min.insync.replicas"]
    finally:
        await admin.close()


def test_two_workers_on_three_brokers_own_each_raw_partition_once_and_count_exactly(
    kafka_cluster: LocalKafka,
    run_workers: Callable[[dict[str, str], str], WorkerProcess],
    tmp_path: Any,
) -> None:
    env = worker_env(
        kafka_cluster.url,
        tmp_path / "data",
        **SCALE_OUT_ENV,
        TOPIC_REPLICAS="3",
        TOPIC_MIN_INSYNC_REPLICAS="2",
    )
    prefix, group = env["TOPIC_PREFIX"], env["APP_ID"]
    raw = prefix + "events.raw"
    first = run_workers(env, "first")
    second = run_workers({**env, "WEB_PORT": str(free_port())}, "second")
    until(lambda: first.log().count(RECOVERED) >= 2, 60, "the first worker's second recovery")

    # The coordinator gave every raw partition to exactly one of the two workers.
    owners = asyncio.run(_raw_owners(kafka_cluster.bootstrap, group, raw))
    print(f"\nraw partitions per member: {owners}; leaders: {kafka_cluster.leaders(raw)}")
    assert len(owners) == 2 and all(owners), owners
    assert not owners[0] & owners[1]
    assert owners[0] | owners[1] == set(range(PARTITIONS))
    # The worker's topics, its table changelogs included, are replicated as configured.
    changelog = f"{group}-metrics-event-counts-changelog"
    for topic in (raw, prefix + "events.custom", changelog):
        assert asyncio.run(_topic_facts(kafka_cluster.bootstrap, topic)) == (3, "2"), topic
    leaders = asyncio.run(partition_leaders(kafka_cluster.bootstrap, raw))
    assert set(leaders) == set(range(PARTITIONS)) and set(leaders.values()) <= {1, 2, 3}

    traffic = generated(random.Random(21), int(time.time() * 1000), REQUESTS)
    produce(kafka_cluster.bootstrap, raw, traffic)
    counts, _ = expected(traffic)
    total = REQUESTS * EVENTS_PER_REQUEST
    assert sum(counts.values()) == total

    records = read_topics(
        kafka_cluster.bootstrap,
        [prefix + "events.custom"],
        lambda got: len(got) >= total,
        timeout=90,
        settle=3.0,
    )
    unique = {record.value["timeUUID"] for record in records}
    print(f"records: {len(records)}, unique: {len(unique)}, expected: {total}")
    assert len(records) == len(unique) == total, "no loss and, without faults, no repeat"
    for worker in (first, second):
        until(
            lambda w=worker: counts_of(w.web_url) == counts,
            90,
            f"totals at {worker.web_url}",
            lambda w=worker: (sum(counts_of(w.web_url).values()), total),
        )
    held = [counts_of(worker.web_url, "?local=0,1,2,3") for worker in (first, second)]
    assert all(held) and not held[0].keys() & held[1].keys()
    assert held[0] + held[1] == counts


def _until_leaders(
    cluster: LocalKafka, topic: str, good: Callable[[dict[int, int]], bool]
) -> dict[int, int]:
    """Poll the partition leaders of ``topic`` until ``good`` holds (60 s at most)."""
    deadline = time.monotonic() + 60
    leaders = cluster.leaders(topic)
    while not good(leaders):
        assert time.monotonic() < deadline, f"leaders stayed {leaders}"
        time.sleep(0.5)
        leaders = cluster.leaders(topic)
    return leaders


def test_a_node_killed_paused_or_restarted_moves_its_leaderships_and_rejoins(
    kafka_cluster: LocalKafka,
) -> None:
    """The cluster object's fault operations, as a fault harness uses them."""
    topic = f"faults-{time.time_ns()}"

    create_topic(kafka_cluster.bootstrap, topic, PARTITIONS, replicas=3)
    leaders = _until_leaders(
        kafka_cluster, topic, lambda found: -1 not in found.values() and len(found) == PARTITIONS
    )
    victim = leaders[0]
    pids = dict(kafka_cluster.pids)
    assert set(pids) == {1, 2, 3} and all(pids.values())

    kafka_cluster.kill(victim)
    assert kafka_cluster.pids[victim] is None
    moved = _until_leaders(kafka_cluster, topic, lambda found: victim not in found.values())
    print(f"\nkilled node {victim}: leaders {leaders} -> {moved}")
    kafka_cluster.restart(victim)
    assert kafka_cluster.pids[victim] not in (None, pids[victim])

    # A paused node holds its ports and answers nothing: it is left out of the live bootstrap,
    # and loses its leaderships once the controller misses its heartbeats.
    leader = kafka_cluster.leaders(topic)[0]
    kafka_cluster.pause(leader)
    assert kafka_cluster.node(leader).bootstrap not in kafka_cluster.live_bootstrap.split(",")
    _until_leaders(kafka_cluster, topic, lambda found: leader not in found.values())
    kafka_cluster.resume(leader)
    kafka_cluster.wait_ready()
    assert produce(kafka_cluster.bootstrap, topic, [(b"after", ())]) == 1

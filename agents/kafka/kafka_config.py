"""The configuration of a local Apache Kafka: one KRaft node per process, on loopback ports.

Every node is a combined broker and controller; a cluster of three is a three-voter quorum
whose topics get three replicas with ``min.insync.replicas=2`` by default, so one node may fail
without losing an acknowledged write.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents.kafka.ports import HOST, free_ports, port_or_free

MAX_MESSAGE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class NodeSpec:
    """Where one node listens and keeps its data."""

    node_id: int
    port: int
    """The client listener, the one the bootstrap string names."""
    controller_port: int
    data_dir: Path

    @property
    def bootstrap(self) -> str:
        return f"{HOST}:{self.port}"


def choose_ports(nodes: int, preferred: int | None = None) -> list[tuple[int, int]]:
    """(client port, controller port) for each node, all free and distinct; the first node's
    client port is ``preferred`` when that one is free."""
    first = None if preferred is None else port_or_free(preferred)
    ports = [port for port in free_ports(2 * nodes + 1) if port != first][: 2 * nodes]
    if first is not None:
        ports[0] = first
    return list(zip(ports[:nodes], ports[nodes:], strict=True))


def node_specs(work_dir: Path, ports: Sequence[tuple[int, int]]) -> list[NodeSpec]:
    """One node per (client, controller) port pair, ids from 1, each with its data dir."""
    return [
        NodeSpec(index, client, controller, work_dir / f"node-{index}" / "data")
        for index, (client, controller) in enumerate(ports, 1)
    ]


def server_properties(node: NodeSpec, cluster: Sequence[NodeSpec]) -> dict[str, str]:
    """The broker settings of ``node`` in ``cluster`` (which includes it)."""
    size = len(cluster)
    replicas = min(3, size)
    min_insync = min(2, size)
    voters = ",".join(f"{peer.node_id}@{HOST}:{peer.controller_port}" for peer in cluster)
    return {
        "process.roles": "broker,controller",
        "node.id": str(node.node_id),
        "controller.quorum.voters": voters,
        "listeners": f"PLAINTEXT://{HOST}:{node.port},CONTROLLER://{HOST}:{node.controller_port}",
        "advertised.listeners": f"PLAINTEXT://{HOST}:{node.port}",
        "controller.listener.names": "CONTROLLER",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
        "log.dirs": str(node.data_dir),
        "default.replication.factor": str(replicas),
        "min.insync.replicas": str(min_insync),
        "offsets.topic.replication.factor": str(replicas),
        "offsets.topic.num.partitions": "10",
        "transaction.state.log.replication.factor": str(replicas),
        "transaction.state.log.min.isr": str(min_insync),
        "transaction.state.log.num.partitions": "10",
        "share.coordinator.state.topic.replication.factor": str(replicas),
        "share.coordinator.state.topic.min.isr": str(min_insync),
        # A lone consumer joins at once instead of waiting for others (3 s by default).
        "group.initial.rebalance.delay.ms": "0",
        # A node killed or paused loses its leaderships in 6 s (9 s by default). Shorter ones,
        # and the quorum's own 1 s election and 2 s fetch timeouts, made nodes fence each other
        # and the controller change hands on a loaded two-core machine: twice those here.
        "broker.heartbeat.interval.ms": "1000",
        "broker.session.timeout.ms": "6000",
        "controller.quorum.election.timeout.ms": "2000",
        "controller.quorum.fetch.timeout.ms": "4000",
        # A record up to 32 MiB (1 MB by default), as the embedded broker takes: the hostile
        # corpus holds requests of 10 MB that must reach the worker through Kafka.
        "message.max.bytes": str(MAX_MESSAGE_BYTES),
        "replica.fetch.max.bytes": str(MAX_MESSAGE_BYTES),
        "num.network.threads": "2",
        "num.io.threads": "4",
    }


def properties_text(settings: Mapping[str, str]) -> str:
    """Java properties, one ``key=value`` a line (no value here needs escaping)."""
    return "".join(f"{key}={value}\n" for key, value in settings.items())


#: Kafka 4 logs through log4j2: everything to the process's stdout, which is the node's log file.
LOG4J2_PROPERTIES = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = info
rootLogger.appenderRef.out.ref = out
# The full configuration dump of every client and server object: hundreds of lines each.
logger.config.name = org.apache.kafka.common.config
logger.config.level = warn
logger.state.name = state.change.logger
logger.state.level = warn
"""

"""A local Apache Kafka that the project starts itself: one KRaft node, or a three-node cluster.

The jars come from :mod:`agents.kafka.kafka_release` (Maven, cached); each node
(:mod:`agents.kafka.kafka_node`) is a JVM with its own storage in a temporary directory,
listening on free loopback ports. The cluster counts as started once each node's metadata
answers list every running node as a broker. Nodes are stopped by process id (SIGTERM, then
SIGKILL) and die with the process that started them.

``python -m agents.kafka.apache_kafka`` (``make kafka``) runs one node in the foreground.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import signal
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from aiokafka import TopicPartition
from aiokafka.errors import KafkaError

from agents.kafka.kafka_config import LOG4J2_PROPERTIES, choose_ports, node_specs
from agents.kafka.kafka_node import KafkaNode
from agents.kafka.kafka_release import Release
from agents.kafka.metadata import cluster_metadata

DEFAULT_HEAP = "512m"
_POLL_SECONDS = 0.2


def new_cluster_id() -> str:
    """A KRaft cluster id: 16 random bytes in URL-safe base64 (not starting with '-')."""
    while True:
        text = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not text.startswith("-"):
            return text


async def brokers_seen(bootstrap: str, timeout_ms: int = 3000) -> set[int]:
    """The broker ids a metadata request to ``bootstrap`` answers (empty when it does not)."""
    try:
        return {
            broker.nodeId for broker in (await cluster_metadata(bootstrap, timeout_ms)).brokers()
        }
    except KafkaError:
        return set()


async def partition_leaders(bootstrap: str, topic: str) -> dict[int, int]:
    """partition -> id of its leader (-1: none now), from fresh metadata; {} for no topic."""
    cluster = await cluster_metadata(bootstrap)
    partitions = sorted(cluster.partitions_for_topic(topic) or ())
    return {p: cluster.leader_for_partition(TopicPartition(topic, p)) for p in partitions}


class LocalKafka:
    """A local Apache Kafka of ``nodes`` combined KRaft nodes on loopback.

    ``LocalKafka()`` is one node; ``LocalKafka(nodes=3)`` is a cluster whose topics get three
    replicas and ``min.insync.replicas=2`` by default. Use it as a context manager, or call
    :meth:`start` and :meth:`stop`. Nodes are numbered from 1. For fault tests: :meth:`kill`
    (kill -9), :meth:`pause` (SIGSTOP), :meth:`resume` (SIGCONT) and :meth:`restart` one node;
    :attr:`pids` says which process is which node, :meth:`leaders` which node leads each
    partition of a topic (from an async caller: ``await partition_leaders(live_bootstrap, t)``).
    """

    def __init__(
        self,
        nodes: int = 1,
        port: int | None = None,
        heap: str = DEFAULT_HEAP,
        release: Release | None = None,
    ) -> None:
        """``port``: the first node's client port when it is free (else a free one is used)."""
        if nodes < 1:
            raise ValueError("a Kafka cluster needs at least one node")
        self.size = nodes
        self.port = port
        self.heap = heap
        self.release = release or Release()
        self.download_seconds = 0.0
        """How long :meth:`start` spent fetching the jars (0 when they were cached)."""
        self.start_seconds = 0.0
        """From the first server launch to every node answering metadata."""
        self._tmp: tempfile.TemporaryDirectory[str] | None = None
        self.nodes: dict[int, KafkaNode] = {}

    # --- where it is ------------------------------------------------------------------------

    @property
    def bootstrap(self) -> str:
        """host:port of every node, comma-separated (what Kafka clients take)."""
        return ",".join(node.bootstrap for node in self.nodes.values())

    @property
    def live_bootstrap(self) -> str:
        """The nodes running and not paused: a client would hang on a paused one."""
        return ",".join(node.bootstrap for node in self._live())

    @property
    def url(self) -> str:
        """The worker's KAFKA_BROKER value."""
        return ";".join(f"kafka://{node.bootstrap}" for node in self.nodes.values())

    @property
    def pids(self) -> dict[int, int | None]:
        """node id -> process id (None for a node that is down)."""
        return {node_id: node.pid for node_id, node in self.nodes.items()}

    def node(self, node_id: int) -> KafkaNode:
        return self.nodes[node_id]

    def log_tails(self, lines: int = 40) -> str:
        """The end of every node's log: what a failing test prints."""
        return "\n".join(node.log_tail(lines) for node in self.nodes.values())

    # --- the whole cluster ------------------------------------------------------------------

    def start(self, timeout: float = 90.0) -> LocalKafka:
        """Fetch the jars if needed, format each node's storage, launch all, wait until ready."""
        self.download_seconds = self.release.resolve()
        self._tmp = tempfile.TemporaryDirectory(prefix="local-kafka-")
        work = Path(self._tmp.name)
        (work / "log4j2.properties").write_text(LOG4J2_PROPERTIES)
        specs = node_specs(work, choose_ports(self.size, self.port))
        self.nodes = {
            spec.node_id: KafkaNode(spec, self.release, self.heap, work / "log4j2.properties")
            for spec in specs
        }
        try:
            cluster_id = new_cluster_id()
            for node in self.nodes.values():
                node.write_config(specs)
            formatting = [node.format_storage(cluster_id) for node in self.nodes.values()]
            if any(process.wait(timeout=timeout) != 0 for process in formatting):
                raise RuntimeError(f"formatting the KRaft storage failed:\n{self.log_tails()}")
            started = time.monotonic()
            for node in self.nodes.values():
                node.launch()
            self.wait_ready(timeout)
            self.start_seconds = time.monotonic() - started
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """SIGTERM every node at once (one by one, the last would wait for a lost quorum),
        SIGKILL what is left after ``timeout``; then remove the storage."""
        for node in self.nodes.values():
            node.terminate()
        deadline = time.monotonic() + timeout
        for node in self.nodes.values():
            node.wait_exit(deadline)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def wait_ready(self, timeout: float = 60.0, nodes: Iterable[int] | None = None) -> None:
        """Until each of ``nodes`` (default: every live one) answers metadata that lists
        every live node as a broker."""
        asking = [self.nodes[node_id] for node_id in nodes] if nodes else self._live()
        wanted = {node.node_id for node in self._live()}
        deadline = time.monotonic() + timeout
        while not all(self._lists(node, wanted) for node in asking):
            for node in self.nodes.values():
                node.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(
                    f"Kafka nodes {sorted(wanted)} not ready in {timeout} s:\n{self.log_tails()}"
                )
            time.sleep(_POLL_SECONDS)

    def _lists(self, node: KafkaNode, wanted: set[int]) -> bool:
        return node.accepts_connections() and wanted <= asyncio.run(brokers_seen(node.bootstrap))

    def _live(self) -> list[KafkaNode]:
        return [node for node in self.nodes.values() if node.running() and not node.paused]

    # --- one node ---------------------------------------------------------------------------

    def kill(self, node_id: int) -> None:
        """kill -9 node ``node_id``."""
        self.nodes[node_id].kill()

    def pause(self, node_id: int) -> None:
        """SIGSTOP node ``node_id``; :meth:`resume` continues it."""
        self.nodes[node_id].pause()

    def resume(self, node_id: int) -> None:
        self.nodes[node_id].resume()

    def restart(self, node_id: int, timeout: float = 60.0) -> None:
        """Stop node ``node_id`` if it runs (SIGTERM), start it again on the same storage and
        ports, and wait until the cluster lists it again."""
        node = self.nodes[node_id]
        node.stop()
        node.launch()
        self.wait_ready(timeout)

    def leaders(self, topic: str) -> dict[int, int]:
        """partition -> node id of its leader now (-1 while it has none)."""
        return asyncio.run(partition_leaders(self.live_bootstrap, topic))

    def __enter__(self) -> LocalKafka:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def _raise_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    """``make kafka``: one node in the foreground until Ctrl-C, and the line to use it."""
    parser = argparse.ArgumentParser(prog="python -m agents.kafka.apache_kafka")
    parser.add_argument("--nodes", type=int, default=1, help="KRaft nodes (3: a cluster)")
    parser.add_argument("--port", type=int, default=9092, help="first node's port, if free")
    args = parser.parse_args(argv)
    kafka = LocalKafka(nodes=args.nodes, port=args.port)
    if not kafka.release.resolved():
        print(f"fetching Apache Kafka {kafka.release.version} with mvn (once)...", file=sys.stderr)
    # Both stop it, even where the shell that started it ignores SIGINT (a background job).
    signal.signal(signal.SIGTERM, _raise_interrupt)
    signal.signal(signal.SIGINT, _raise_interrupt)
    try:
        with kafka:
            logs = ", ".join(str(node.log_path) for node in kafka.nodes.values())
            print(
                f"Apache Kafka {kafka.release.version}, {args.nodes} node(s), ready in "
                f"{kafka.start_seconds:.1f} s (jars fetched in {kafka.download_seconds:.1f} s); "
                f"Ctrl-C stops it and deletes its data. Logs: {logs}",
                file=sys.stderr,
            )
            print(f"KAFKA_BROKER={kafka.url} make run-worker", flush=True)
            while True:
                for node in kafka.nodes.values():
                    node.check_alive()
                time.sleep(1.0)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

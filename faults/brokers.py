"""The brokers a fault run gets: the embedded one, one Apache Kafka node, or a cluster of three."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.kafka.embedded_broker import EmbeddedBroker, free_port

KINDS = ("embedded", "kafka", "cluster")


@dataclass(frozen=True)
class Broker:
    """Where a run's clients connect, and what its workers are told."""

    bootstrap: str
    """host:port of every node, comma-separated."""
    cluster: Any = None
    """The ``agents.kafka.apache_kafka.LocalKafka`` of a local Apache Kafka, to fault its nodes."""
    worker_settings: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return ";".join(f"kafka://{node}" for node in self.bootstrap.split(","))


@contextmanager
def broker(kind: str, work: Path) -> Iterator[Broker]:
    """A broker of the run's own, stopped (by pid) after it."""
    if kind == "embedded":
        with EmbeddedBroker(port=free_port(), log_path=work / "broker.log") as embedded:
            yield Broker(embedded.bootstrap)
        return
    if kind not in KINDS:
        raise SystemExit(f"unknown broker {kind!r}: one of {', '.join(KINDS)}")
    from agents.kafka.apache_kafka import LocalKafka

    nodes = 3 if kind == "cluster" else 1
    with LocalKafka(nodes=nodes) as kafka:
        settings = {"TOPIC_REPLICAS": "3", "TOPIC_MIN_INSYNC_REPLICAS": "2"} if nodes == 3 else {}
        try:
            yield Broker(kafka.bootstrap, kafka, settings)
        finally:
            (work / "kafka.log").write_text(kafka.log_tails(400))

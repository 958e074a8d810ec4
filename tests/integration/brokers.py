"""Which Kafka-protocol broker the integration tests get, and why.

In this order: ``KAFKA_BOOTSTRAP_SERVERS``; a testcontainers Kafka where a Docker engine
answers; Apache Kafka started locally from its Maven jars where ``java`` and ``mvn`` exist;
else the embedded broker. ``TEST_BROKER=embedded|kafka|container`` forces one.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from agents.kafka.apache_kafka import LocalKafka
from agents.kafka.embedded_broker import EmbeddedBroker, free_port
from agents.kafka.kafka_release import KAFKA_VERSION, tools_present

EXTERNAL, CONTAINER, KAFKA, EMBEDDED = "external", "container", "kafka", "embedded"
FORCEABLE = (EMBEDDED, KAFKA, CONTAINER)


@dataclass(frozen=True)
class Choice:
    kind: str
    why: str

    def describe(self) -> str:
        names = {
            EXTERNAL: f"the broker at {os.environ.get('KAFKA_BOOTSTRAP_SERVERS')}",
            CONTAINER: "a testcontainers Kafka",
            KAFKA: f"Apache Kafka {KAFKA_VERSION}, started locally (one KRaft node)",
            EMBEDDED: "the embedded broker (Tansu)",
        }
        return f"{names[self.kind]}: {self.why}"


@dataclass(frozen=True)
class SessionBroker:
    """The broker of a test session: its bootstrap (host:port) and what it is."""

    kind: str
    bootstrap: str
    local_kafka: LocalKafka | None = None
    """The local Apache Kafka, when that is the broker: its logs go into failure reports."""


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@functools.cache
def choose() -> Choice:
    forced = os.environ.get("TEST_BROKER", "").strip().lower()
    if forced:
        if forced not in FORCEABLE:
            raise ValueError(f"TEST_BROKER must be one of {', '.join(FORCEABLE)}, not {forced!r}")
        return Choice(forced, f"TEST_BROKER={forced}")
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        return Choice(EXTERNAL, "KAFKA_BOOTSTRAP_SERVERS is set")
    if _docker_answers():
        return Choice(CONTAINER, "a Docker engine answers")
    if tools_present():
        return Choice(KAFKA, "java and mvn are on the PATH (TEST_BROKER=embedded forces Tansu)")
    return Choice(EMBEDDED, "no KAFKA_BOOTSTRAP_SERVERS, Docker engine, or java and mvn")


@contextmanager
def session_broker(choice: Choice, log_dir: Path) -> Iterator[SessionBroker]:
    """Start (or name) the chosen broker for a whole session; stop it at the end."""
    if choice.kind == EXTERNAL:
        yield SessionBroker(EXTERNAL, os.environ["KAFKA_BOOTSTRAP_SERVERS"])
    elif choice.kind == CONTAINER:
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as container:
            yield SessionBroker(CONTAINER, container.get_bootstrap_server())
    elif choice.kind == KAFKA:
        with LocalKafka() as kafka:
            yield SessionBroker(KAFKA, kafka.bootstrap, kafka)
    else:
        with EmbeddedBroker(port=free_port(), log_path=log_dir / "tansu.log") as broker:
            yield SessionBroker(EMBEDDED, broker.bootstrap)

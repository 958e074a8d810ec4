"""What real Kafka needs of the worker: acks=all, min.insync.replicas on every topic it makes."""

from __future__ import annotations

import json

import pytest

from agents.settings import Settings
from tests.unit.fresh_process import stdout_of

PROBE = """
import json
from agents.app import app
from agents import topics as declared

made = [declared.raw_events, *declared.events_by_type.values(), declared.dead_letters,
        declared.metric_partials, declared.metric_windows]
topics = {topic.get_topic_name(): topic.config for topic in made}
topics.update(
    {table.changelog_topic.get_topic_name(): table.changelog_topic.config
     for table in app.tables.values()}
)
kinds = {type(topic).__name__ for topic in made}
kinds |= {type(table.changelog_topic).__name__ for table in app.tables.values()}
print(json.dumps({"acks": app.conf.producer_acks, "replicas": app.conf.topic_replication_factor,
                  "topics": topics, "kinds": sorted(kinds)}))
"""


def worker_topics(**env: str) -> dict[str, object]:
    """The producer acks, replication and topic configs of a worker, in a fresh process."""
    output = stdout_of(PROBE, lambda name: name.startswith(("TOPIC_", "PRODUCER_")), **env)
    result: dict[str, object] = json.loads(output.splitlines()[-1])
    return result


def test_every_topic_the_worker_creates_requires_the_configured_in_sync_replicas() -> None:
    found = worker_topics(TOPIC_REPLICAS="3", TOPIC_MIN_INSYNC_REPLICAS="2")
    assert found["acks"] == -1, "acks=all"
    assert found["replicas"] == 3
    topics = found["topics"]
    assert isinstance(topics, dict)
    assert any(name.endswith("-changelog") for name in topics)
    assert any(name.endswith("events.raw") for name in topics)
    # Declared, each waits until the brokers list it (agents/kafka/listed_topic.py).
    assert found["kinds"] == ["ListedTopic"]
    assert {
        name: config["min.insync.replicas"] for name, config in topics.items()
    } == dict.fromkeys(topics, "2")


def test_by_default_one_replica_suffices() -> None:
    settings = Settings.from_env()
    assert settings.topic_config() == {"min.insync.replicas": "1"}


def test_more_in_sync_replicas_than_replicas_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOPIC_REPLICAS", "1")
    monkeypatch.setenv("TOPIC_MIN_INSYNC_REPLICAS", "2")
    with pytest.raises(ValueError, match="TOPIC_MIN_INSYNC_REPLICAS=2 must be between 1 and"):
        Settings.from_env()

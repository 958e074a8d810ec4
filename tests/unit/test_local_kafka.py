"""The local Apache Kafka launcher's pieces that need no Java: release pinning, the cache, ports,
the KRaft configuration, and which broker the integration tests pick."""

from __future__ import annotations

import base64
import socket
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from agents.kafka import kafka_release
from agents.kafka.apache_kafka import new_cluster_id
from agents.kafka.kafka_config import (
    LOG4J2_PROPERTIES,
    choose_ports,
    node_specs,
    properties_text,
    server_properties,
)
from agents.kafka.kafka_release import KAFKA_VERSION, KafkaUnavailable, Release, pom_xml
from agents.kafka.ports import free_ports, port_or_free
from tests.integration import brokers

POM = "{http://maven.apache.org/POM/4.0.0}"


# --- the release -----------------------------------------------------------------------------


def test_the_pinned_release_is_a_kraft_only_kafka_4() -> None:
    major, minor, patch = (int(part) for part in KAFKA_VERSION.split("."))
    assert major == 4, "Kafka 4 has no ZooKeeper mode: KRaft only"
    assert minor >= 0 and patch >= 0


def test_the_pom_asks_for_the_broker_and_an_slf4j_binding_at_pinned_versions() -> None:
    root = ET.fromstring(pom_xml("4.4.0"))
    found = {
        (dep.findtext(f"{POM}groupId"), dep.findtext(f"{POM}artifactId")): dep.findtext(
            f"{POM}version"
        )
        for dep in root.iter(f"{POM}dependency")
    }
    assert found[("org.apache.kafka", "kafka_2.13")] == "4.4.0"
    assert ("org.apache.logging.log4j", "log4j-slf4j2-impl") in found
    assert all(version and version[0].isdigit() for version in found.values()), "no ranges"


def test_the_cache_lives_where_local_kafka_cache_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOCAL_KAFKA_CACHE", str(tmp_path / "cache"))
    release = Release("4.4.0")
    assert release.home == tmp_path / "cache" / "kafka-4.4.0"
    assert release.classpath == str(tmp_path / "cache" / "kafka-4.4.0" / "libs" / "*")


def test_the_default_cache_is_outside_the_work_tree(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LOCAL_KAFKA_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", "/var/cache/someone")
    assert Release().home == Path(f"/var/cache/someone/statsig-stream/kafka-{KAFKA_VERSION}")


def test_a_resolved_release_is_not_fetched_again(tmp_path: Path) -> None:
    release = Release("4.4.0", root=tmp_path)
    release.libs.mkdir(parents=True)
    assert not release.resolved(), "a directory without its completion mark is not a release"
    (release.home / "complete").write_text("4.4.0\n")
    assert release.resolved()
    assert release.resolve() == 0.0


def test_without_java_and_mvn_resolving_says_what_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert not kafka_release.tools_present()
    with pytest.raises(KafkaUnavailable, match="java and mvn"):
        Release("4.4.0", root=tmp_path).resolve()


# --- ports -----------------------------------------------------------------------------------


def test_ports_are_free_and_distinct() -> None:
    pairs = choose_ports(3)
    ports = [port for pair in pairs for port in pair]
    assert len(set(ports)) == 6
    for port in ports:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", port))


def test_the_preferred_port_is_used_when_free_and_replaced_when_taken() -> None:
    (wanted,) = free_ports(1)
    assert port_or_free(wanted) == wanted
    assert choose_ports(1, preferred=wanted)[0][0] == wanted
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", wanted))
        taken.listen()
        other = choose_ports(1, preferred=wanted)[0][0]
        assert other != wanted


# --- the KRaft configuration -----------------------------------------------------------------


def test_a_single_node_is_broker_and_controller_with_replication_one(tmp_path: Path) -> None:
    (node,) = specs = node_specs(tmp_path, [(19092, 19093)])
    config = server_properties(node, specs)
    assert config["process.roles"] == "broker,controller"
    assert config["controller.quorum.voters"] == "1@127.0.0.1:19093"
    assert config["listeners"] == "PLAINTEXT://127.0.0.1:19092,CONTROLLER://127.0.0.1:19093"
    assert config["advertised.listeners"] == "PLAINTEXT://127.0.0.1:19092"
    assert config["log.dirs"] == str(tmp_path / "node-1" / "data")
    for key in ("default.replication.factor", "offsets.topic.replication.factor"):
        assert config[key] == "1", key
    assert config["min.insync.replicas"] == config["transaction.state.log.min.isr"] == "1"
    # The hostile corpus's 10 MB requests must fit, as on the embedded broker.
    assert int(config["message.max.bytes"]) >= 10 * 1024 * 1024


def test_three_nodes_form_one_quorum_with_replication_three_and_two_in_sync(
    tmp_path: Path,
) -> None:
    specs = node_specs(tmp_path, [(19092, 19093), (19094, 19095), (19096, 19097)])
    configs = [server_properties(node, specs) for node in specs]
    assert {c["controller.quorum.voters"] for c in configs} == {
        "1@127.0.0.1:19093,2@127.0.0.1:19095,3@127.0.0.1:19097"
    }
    assert [c["node.id"] for c in configs] == ["1", "2", "3"]
    assert len({c["log.dirs"] for c in configs}) == 3, "each node its own storage"
    for config in configs:
        assert config["default.replication.factor"] == "3"
        assert config["offsets.topic.replication.factor"] == "3"
        assert config["min.insync.replicas"] == "2"
        assert config["transaction.state.log.min.isr"] == "2"
        # Loopback only, on every listener.
        assert all("127.0.0.1:" in entry for entry in config["listeners"].split(","))


def test_properties_and_log4j2_config_are_plain_text() -> None:
    assert properties_text({"a.b": "1", "c": "x,y"}) == "a.b=1\nc=x,y\n"
    assert "rootLogger.level = info" in LOG4J2_PROPERTIES
    assert "appender.out.type = Console" in LOG4J2_PROPERTIES


def test_a_cluster_id_is_sixteen_bytes_of_url_safe_base64() -> None:
    for _ in range(50):
        cluster_id = new_cluster_id()
        assert len(cluster_id) == 22 and not cluster_id.startswith("-")
        assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


# --- which broker the integration tests get --------------------------------------------------


@pytest.fixture
def choose(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """brokers.choose() with a clean environment and no Docker engine."""
    for name in ("TEST_BROKER", "KAFKA_BOOTSTRAP_SERVERS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(brokers, "_docker_answers", lambda: False)

    def fresh() -> brokers.Choice:
        brokers.choose.cache_clear()
        return brokers.choose()

    yield fresh
    brokers.choose.cache_clear()


def test_the_test_broker_is_kafka_where_java_and_mvn_exist(choose, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(brokers, "tools_present", lambda: True)
    assert choose().kind == brokers.KAFKA
    monkeypatch.setattr(brokers, "tools_present", lambda: False)
    assert choose().kind == brokers.EMBEDDED


def test_the_test_broker_order_and_forcing(choose, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(brokers, "tools_present", lambda: True)
    monkeypatch.setattr(brokers, "_docker_answers", lambda: True)
    assert choose().kind == brokers.CONTAINER
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9")
    assert choose().kind == brokers.EXTERNAL
    monkeypatch.setenv("TEST_BROKER", "embedded")
    assert choose().kind == brokers.EMBEDDED
    assert "TEST_BROKER=embedded" in choose().describe()
    monkeypatch.setenv("TEST_BROKER", "tansu")
    with pytest.raises(ValueError, match="TEST_BROKER must be one of"):
        choose()

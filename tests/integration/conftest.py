"""The one broker fixture: KAFKA_BOOTSTRAP_SERVERS, else a testcontainers Kafka where a Docker
engine answers, else the embedded broker on a free loopback port."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents.kafka.embedded_broker import EmbeddedBroker, free_port
from tests.integration.worker import WorkerProcess, worker_env


def _docker_answers() -> bool:
    try:
        import docker

        docker.from_env(timeout=3).ping()
    except Exception:
        return False
    return True


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """host:port of a Kafka-protocol broker for the whole session."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    if _docker_answers():
        from testcontainers.kafka import KafkaContainer

        with KafkaContainer() as kafka:
            yield kafka.get_bootstrap_server()
        return
    log = tmp_path_factory.mktemp("broker") / "tansu.log"
    with EmbeddedBroker(port=free_port(), log_path=log) as broker:
        yield broker.bootstrap


@pytest.fixture
def start_worker(bootstrap: str, tmp_path: Path) -> Iterator[callable]:  # type: ignore[valid-type]
    """Start real workers on the session broker; all are stopped when the test ends."""
    started: list[WorkerProcess] = []

    def start(
        env: dict[str, str] | None = None, name: str = "worker", **overrides: str
    ) -> WorkerProcess:
        env = env or worker_env(f"kafka://{bootstrap}", tmp_path / "data", **overrides)
        worker = WorkerProcess(env, tmp_path / f"{name}-{len(started)}.log").start()
        started.append(worker)
        return worker.wait_ready()

    yield start
    for worker in started:
        worker.stop()


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)

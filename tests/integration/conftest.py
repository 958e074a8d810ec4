"""The one broker fixture (chosen by tests/integration/brokers.py), the real workers on it, and
a three-node Apache Kafka cluster for the tests that need replication."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agents.kafka.apache_kafka import LocalKafka
from agents.kafka.kafka_release import tools_present
from tests.integration.brokers import SessionBroker, choose, session_broker
from tests.integration.worker import WorkerProcess, worker_env


def _say(config: pytest.Config, line: str) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(line)


def _started(kafka: LocalKafka) -> str:
    return f"jars fetched in {kafka.download_seconds:.1f} s, ready in {kafka.start_seconds:.1f} s"


@pytest.fixture(scope="session")
def broker(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SessionBroker]:
    """The session's Kafka-protocol broker."""
    with session_broker(choose(), tmp_path_factory.mktemp("broker")) as found:
        facts = f" ({_started(found.local_kafka)})" if found.local_kafka else ""
        _say(request.config, f"\nbroker: {found.kind} at {found.bootstrap}{facts}")
        yield found


@pytest.fixture(scope="session")
def bootstrap(broker: SessionBroker) -> str:
    """host:port of the session's broker."""
    return broker.bootstrap


@pytest.fixture(scope="session")
def kafka_cluster(request: pytest.FixtureRequest) -> Iterator[LocalKafka]:
    """Three Apache Kafka nodes on loopback: replication 3, min.insync.replicas 2."""
    if not tools_present():
        pytest.skip("a local Apache Kafka cluster needs java and mvn")
    with LocalKafka(nodes=3) as cluster:
        _say(request.config, f"\nkafka cluster: {cluster.bootstrap} ({_started(cluster)})")
        yield cluster


@pytest.fixture
def run_workers(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[Callable[[dict[str, str], str], WorkerProcess]]:
    """Start real workers with the environment given, each with its own log; all are stopped
    when the test ends (a failed test's report ends with the tail of each log)."""
    started: list[WorkerProcess] = []
    request.node.started_workers = started

    def run(env: dict[str, str], name: str = "worker") -> WorkerProcess:
        worker = WorkerProcess(env, tmp_path / f"{name}-{len(started)}.log").start()
        started.append(worker)
        return worker.wait_ready()

    yield run
    for worker in started:
        worker.stop()


@pytest.fixture
def start_worker(
    bootstrap: str, run_workers: Callable[[dict[str, str], str], WorkerProcess], tmp_path: Path
) -> Callable[..., WorkerProcess]:
    """Start real workers on the session broker; all are stopped when the test ends."""

    def start(
        env: dict[str, str] | None = None, name: str = "worker", **overrides: str
    ) -> WorkerProcess:
        env = env or worker_env(f"kafka://{bootstrap}", tmp_path / "data", **overrides)
        return run_workers(env, name)

    return start


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """A failed test's report ends with the tail of each worker's and local Kafka node's log."""
    outcome = yield
    report = outcome.get_result()
    if not report.failed:
        return
    for worker in getattr(item, "started_workers", ()):
        tail = "\n".join(worker.log().splitlines()[-60:])
        report.sections.append((f"worker log {worker.log_path.name} (last 60 lines)", tail))
    funcargs = getattr(item, "funcargs", {})
    session = funcargs.get("broker")
    for kafka in (getattr(session, "local_kafka", None), funcargs.get("kafka_cluster")):
        if kafka is not None:
            report.sections.append(("local Apache Kafka logs", kafka.log_tails()))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)

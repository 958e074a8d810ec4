"""The fault scenarios: real workers, real brokers, real kills; each run accounted exactly."""

from __future__ import annotations

import asyncio
import gzip
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer

from agents.kafka.metadata import topic_partitions
from agents.kafka.ports import free_ports
from bench.worker import WORKER, AppProcess, app_env
from faults.brokers import Broker
from faults.http_load import http_load
from faults.ledger import RAW_SUFFIX, Outcome, output_topics, settle
from faults.load import busy_cpu, steady_producer
from processor.samples import sample_requests

EVENTS_PER_REQUEST = 50
LOW_LATENCY = {"FETCH_MAX_WAIT_MS": "20", "INGEST_BATCH_SECONDS": "0.01"}
"""The defaults, set explicitly: the settings under which kill -9 once lost records."""
LONG_WAITS = {"FETCH_MAX_WAIT_MS": "1500", "INGEST_BATCH_SECONDS": "0.05"}
"""Fewer, fuller fetches and batches: a fetch then still in flight when the worker seeks."""
EXACTLY_ONCE = {"PROCESSING_GUARANTEE": "exactly_once"}


@dataclass(frozen=True)
class Size:
    """How much traffic a run offers, and over how long."""

    requests: int
    produce_seconds: float
    kill_window: tuple[float, float]
    """Kills land at random moments in this window (seconds after the load starts)."""


FULL = Size(requests=2_000, produce_seconds=5.0, kill_window=(1.0, 12.0))
QUICK = Size(requests=600, produce_seconds=3.0, kill_window=(1.0, 5.0))


@dataclass
class Run:
    """One run of a scenario: its accounting and where its logs are."""

    outcome: Outcome
    logs: list[Path]
    faults: int
    worker_exited: bool = False
    """A worker that must go on through the fault (or a restarted one) had exited at the end."""
    notes: list[str] = field(default_factory=list)
    error: str = ""
    """Why the run could not be accounted at all (a worker gone, say): a failed run."""

    @property
    def ok(self) -> bool:
        return self.outcome.ok and not self.worker_exited and not self.error

    @classmethod
    def of(cls, outcome: Outcome, group: list[AppProcess], faults: int) -> Run:
        """The run of ``group``: its logs, and whether any of its workers is not running at the
        end (killed and not restarted, or crashed)."""
        exited = any(w.process is None or w.process.poll() is not None for w in group)
        return cls(outcome, [w.log_path for w in group], faults, worker_exited=exited)


@dataclass(frozen=True)
class Scenario:
    name: str
    describe: str
    run: Callable[[Broker, Path, Size, int], Run]
    """(broker, work dir, size, seed) -> the run."""
    needs_cluster: bool = False
    not_on_embedded: str = ""
    """Why the scenario runs on Apache Kafka only (empty: it runs on every broker)."""


@contextmanager
def workers(broker: Broker, work: Path, count: int, **overrides: str) -> Iterator[list[AppProcess]]:
    """``count`` real workers in one consumer group, ready; stopped (by pid) on exit."""
    env = app_env(
        broker.bootstrap, work / "data", KAFKA_BROKER=broker.url, **broker.worker_settings
    )
    env.update(overrides)
    with ExitStack() as stack:
        started: list[AppProcess] = []
        # Each its own free port: the port after a free one may be taken (a run of the
        # harness failed on "address already in use" with consecutive ports).
        for index, port in enumerate(free_ports(count)):
            own = {**env, "WEB_PORT": str(port)}
            worker = AppProcess(WORKER, own, work / f"worker-{index}.log")
            started.append(stack.enter_context(worker))
        for worker in started:
            worker.wait_ready()
        yield started


def _bodies(size: Size, seed: int) -> list[bytes]:
    return sample_requests(
        size.requests, EVENTS_PER_REQUEST, seed=seed, now_ms=int(time.time() * 1000)
    )


async def _next_commit(bootstrap: str, group_id: str, topic: str, timeout: float) -> bool:
    """Wait until the group commits a raw offset further than it had; False on timeout. (A
    consumer that never subscribes only reads the group's offsets: it does not join it.)"""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group_id)
    await reader.start()
    try:
        partitions = await topic_partitions(bootstrap, [topic])
        before: int | None = None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            total = sum([await reader.committed(tp) or 0 for tp in partitions])
            if before is not None and total > before:
                return True
            before = total if before is None else before
            await asyncio.sleep(0.01)
        return False
    finally:
        await reader.stop()


def _kill_and_restart(
    bootstrap: str,
    group: list[AppProcess],
    size: Size,
    seed: int,
    kills: int,
    downtime: float,
    after_commit: bool = False,
) -> Outcome:
    """Produce steadily; ``kills`` times kill -9 the next worker of ``group`` (at random moments,
    or right after the group's next commit: what it fetched since is then in flight), keep it
    down ``downtime`` seconds and start it again; then account for the run."""
    rng = random.Random(seed)
    prefix = group[0].prefix
    bodies = _bodies(size, seed)
    producer = steady_producer(bootstrap, prefix + RAW_SUFFIX, bodies, size.produce_seconds).start()
    started = time.monotonic()
    for index, moment in enumerate(sorted(rng.uniform(*size.kill_window) for _ in range(kills))):
        victim = group[index % len(group)]
        if after_commit:
            app_id, raw = victim.env["APP_ID"], prefix + RAW_SUFFIX
            asyncio.run(_next_commit(bootstrap, app_id, raw, timeout=20.0))
        else:
            time.sleep(max(0.0, moment - (time.monotonic() - started)))
        victim.kill()
        time.sleep(downtime)
        victim.start().wait_ready()
    producer.join(timeout=180)
    exactly_once = group[0].env.get("PROCESSING_GUARANTEE") == "exactly_once"
    return settle(bootstrap, prefix, bodies, group[0].web_url, exactly_once)


def worker_kill(
    overrides: dict[str, str], busy: bool, after_commit: bool = False
) -> Callable[[str, Path, Size, int], Run]:
    """One worker, kill -9 three times under load, restarted at once each time."""

    def run(broker: Broker, work: Path, size: Size, seed: int) -> Run:
        with busy_cpu(busy), workers(broker, work, 1, **overrides) as group:
            outcome = _kill_and_restart(
                broker.bootstrap,
                group,
                size,
                seed,
                kills=3,
                downtime=0.0,
                after_commit=after_commit,
            )
            return Run.of(outcome, group, faults=3)

    return run


def worker_rejoin(broker: Broker, work: Path, size: Size, seed: int) -> Run:
    """Two workers; one killed and kept down past the session timeout, so the other takes its
    partitions over; then it comes back and takes some again."""
    with workers(broker, work, 2) as group:
        env = group[0].env
        downtime = float(env["BROKER_SESSION_TIMEOUT"]) + float(env["BROKER_REBALANCE_TIMEOUT"]) + 2
        outcome = _kill_and_restart(
            broker.bootstrap, group[::-1], size, seed, kills=1, downtime=downtime
        )
        return Run.of(outcome, group, faults=1)


def worker_churn(broker: Broker, work: Path, size: Size, seed: int) -> Run:
    """Two workers under steady load, no crash: the second stops (SIGTERM) and starts again,
    four times, so the partitions move back and forth and the first goes through a rebalance
    and its recovery again and again while it processes."""
    with workers(broker, work, 2) as group:
        first, second = group
        bodies = _bodies(size, seed)
        raw = first.prefix + RAW_SUFFIX
        producer = steady_producer(broker.bootstrap, raw, bodies, 3 * size.produce_seconds).start()
        for _ in range(4):
            time.sleep(1.0)
            second.stop()
            time.sleep(1.0)
            second.start().wait_ready()
        producer.join(timeout=240)
        outcome = settle(broker.bootstrap, first.prefix, bodies, first.web_url)
        return Run.of(outcome, group, faults=8)


def busiest_node(broker: Broker, prefix: str) -> int:
    """The node that leads the most partitions of the run's raw and output topics."""
    leads: Counter[int] = Counter()
    for topic in [prefix + RAW_SUFFIX, *output_topics(prefix)]:
        leads.update(leader for leader in broker.cluster.leaders(topic).values() if leader >= 0)
    return leads.most_common(1)[0][0]


def _kill_broker(broker: Broker, node: int, session_timeout: float) -> None:
    """kill -9 the node, keep it down a few seconds, start it again on its storage."""
    broker.cluster.kill(node)
    time.sleep(5.0)
    broker.cluster.restart(node)


def _pause_broker(broker: Broker, node: int, session_timeout: float) -> None:
    """SIGSTOP the node for longer than the consumer's session timeout, then SIGCONT."""
    broker.cluster.pause(node)
    time.sleep(session_timeout + 4.0)
    broker.cluster.resume(node)
    broker.cluster.wait_ready()


BrokerFault = Callable[[Broker, int, float], None]


def broker_fault(fault: BrokerFault) -> Callable[[Broker, Path, Size, int], Run]:
    """One worker under steady load; the node leading most of its partitions is faulted once;
    the worker must go on without a restart."""

    def run(broker: Broker, work: Path, size: Size, seed: int) -> Run:
        with workers(broker, work, 1) as group:
            worker = group[0]
            bodies = _bodies(size, seed)
            raw = worker.prefix + RAW_SUFFIX
            seconds = 3 * size.produce_seconds
            producer = steady_producer(broker.bootstrap, raw, bodies, seconds).start()
            time.sleep(size.kill_window[0] + 1.0)
            timeout = float(worker.env["BROKER_SESSION_TIMEOUT"])
            fault(broker, busiest_node(broker, worker.prefix), timeout)
            producer.join(timeout=240)
            outcome = settle(broker.bootstrap, worker.prefix, bodies, worker.web_url)
            return Run.of(outcome, group, faults=1)

    return run


def http_broker_kill(broker: Broker, work: Path, size: Size, seed: int) -> Run:
    """SDK-like clients post to the Events API while the busiest node is killed and restarted:
    every request answered 202 must come out; those answered 503 are retried and counted."""
    with workers(broker, work, 1) as group:
        worker = group[0]
        bodies = [gzip.compress(body) for body in _bodies(size, seed)]
        url = worker.web_url + "/v1/log_event"
        load = http_load(url, bodies, seconds=3 * size.produce_seconds).start()
        time.sleep(size.kill_window[0] + 1.0)
        _kill_broker(broker, busiest_node(broker, worker.prefix), 0.0)
        posted = load.join(timeout=300)
        outcome = settle(broker.bootstrap, worker.prefix, posted.accepted, worker.web_url)
        run = Run.of(outcome, group, faults=1)
        run.notes = [
            f"HTTP: {len(posted.accepted)} requests answered 202, {posted.unavailable} answers "
            f"503 and {posted.broken} broken connections retried, {posted.given_up} given up"
        ]
        if posted.given_up:
            run.worker_exited = True  # the service stayed unavailable: a failed run
        return run


SCENARIOS: dict[str, Scenario] = {
    scenario.name: scenario
    for scenario in (
        Scenario(
            "worker-kill",
            "one worker, kill -9 three times under load (defaults, quiet CPU)",
            worker_kill({}, busy=False),
        ),
        Scenario(
            "worker-kill-busy",
            "the same with a busy process beside it",
            worker_kill({}, busy=True),
        ),
        Scenario(
            "worker-kill-low-latency",
            "the same with FETCH_MAX_WAIT_MS=20 INGEST_BATCH_SECONDS=0.01",
            worker_kill(LOW_LATENCY, busy=False),
        ),
        Scenario(
            "worker-kill-low-latency-busy",
            "the low-latency settings with a busy process beside it",
            worker_kill(LOW_LATENCY, busy=True),
        ),
        Scenario(
            "worker-kill-long-waits",
            "the same with FETCH_MAX_WAIT_MS=1500 INGEST_BATCH_SECONDS=0.05",
            worker_kill(LONG_WAITS, busy=False),
        ),
        Scenario(
            "worker-kill-after-commit",
            "one worker, kill -9 three times, each right after a commit (its batch in flight)",
            worker_kill({}, busy=False, after_commit=True),
        ),
        Scenario(
            "worker-kill-exactly-once",
            "one worker in exactly-once mode, kill -9 three times: no repeat may show",
            worker_kill(EXACTLY_ONCE, busy=False),
            not_on_embedded="the embedded broker refuses transactional producers",
        ),
        Scenario(
            "worker-rejoin",
            "two workers, one killed and back after the session timeout",
            worker_rejoin,
            not_on_embedded=(
                "the embedded broker under-reports end offsets: when the killed worker's "
                "partitions move to the survivor, Faust's recovery check can stop it "
                "(ConsistencyError)"
            ),
        ),
        Scenario(
            "worker-churn",
            "two workers under load, no crash: one stopped and started four times",
            worker_churn,
            not_on_embedded=(
                "the embedded broker under-reports end offsets: after a rebalance Faust's "
                "recovery check stops a worker whose table is ahead of them (ConsistencyError)"
            ),
        ),
        Scenario(
            "broker-leader-kill",
            "three brokers; kill -9 the one leading most partitions under load, then restart it",
            broker_fault(_kill_broker),
            needs_cluster=True,
        ),
        Scenario(
            "broker-pause",
            "three brokers; SIGSTOP the busiest one past the session timeout, then SIGCONT",
            broker_fault(_pause_broker),
            needs_cluster=True,
        ),
        Scenario(
            "http-broker-kill",
            "HTTP ingress under load while the busiest of three brokers dies and comes back",
            http_broker_kill,
            needs_cluster=True,
        ),
    )
}

"""The fault scenarios: real workers, real brokers, real kills; each run accounted exactly."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from aiokafka import AIOKafkaConsumer, TopicPartition

from bench.worker import WORKER, AppProcess, app_env
from faults.ledger import RAW_SUFFIX, Outcome, settle
from faults.load import SteadyProducer, busy_cpu
from processor.samples import sample_requests

EVENTS_PER_REQUEST = 50
LOW_LATENCY = {"FETCH_MAX_WAIT_MS": "20", "INGEST_BATCH_SECONDS": "0.01"}
"""The settings under which kill -9 once lost records (see the README, Reliability)."""


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
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Scenario:
    name: str
    describe: str
    run: Callable[[str, Path, Size, int], Run]
    """(bootstrap, work dir, size, seed) -> the run."""
    needs_cluster: bool = False


@contextmanager
def workers(bootstrap: str, work: Path, count: int, **overrides: str) -> Iterator[list[AppProcess]]:
    """``count`` real workers in one consumer group, ready; stopped (by pid) on exit."""
    env = app_env(bootstrap, work / "data", **overrides)
    with ExitStack() as stack:
        started: list[AppProcess] = []
        for index in range(count):
            own = {**env, "WEB_PORT": str(int(env["WEB_PORT"]) + index)}
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
        partitions = [TopicPartition(topic, p) for p in reader.partitions_for_topic(topic) or ()]
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
    producer = SteadyProducer(bootstrap, prefix + RAW_SUFFIX, bodies, size.produce_seconds).start()
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
    return settle(bootstrap, prefix, bodies)


def worker_kill(
    overrides: dict[str, str], busy: bool, after_commit: bool = False
) -> Callable[[str, Path, Size, int], Run]:
    """One worker, kill -9 three times under load, restarted at once each time."""

    def run(bootstrap: str, work: Path, size: Size, seed: int) -> Run:
        with busy_cpu(busy), workers(bootstrap, work, 1, **overrides) as group:
            outcome = _kill_and_restart(
                bootstrap, group, size, seed, kills=3, downtime=0.0, after_commit=after_commit
            )
            return Run(outcome, [worker.log_path for worker in group], faults=3)

    return run


def worker_rejoin(bootstrap: str, work: Path, size: Size, seed: int) -> Run:
    """Two workers; one killed and kept down past the session timeout, so the other takes its
    partitions over; then it comes back and takes some again."""
    with workers(bootstrap, work, 2) as group:
        env = group[0].env
        downtime = float(env["BROKER_SESSION_TIMEOUT"]) + float(env["BROKER_REBALANCE_TIMEOUT"]) + 2
        outcome = _kill_and_restart(bootstrap, group[::-1], size, seed, kills=1, downtime=downtime)
        return Run(outcome, [worker.log_path for worker in group], faults=1)


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
            "worker-kill-after-commit",
            "one worker, kill -9 three times, each right after a commit (its batch in flight)",
            worker_kill({}, busy=False, after_commit=True),
        ),
        Scenario(
            "worker-rejoin",
            "two workers, one killed and back after the session timeout",
            worker_rejoin,
        ),
    )
}

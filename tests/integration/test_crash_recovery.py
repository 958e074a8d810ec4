"""kill -9 while events flow: nothing accepted is lost, and every repeat is an exact duplicate."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable

import pytest

from processor.samples import sample_requests
from tests.integration.kafka_io import Consumed, produce, read_topics
from tests.integration.test_pipeline import output_topics
from tests.integration.worker import WorkerProcess

REQUESTS = 2_000
EVENTS_PER_REQUEST = 50
TOTAL_EVENTS = REQUESTS * EVENTS_PER_REQUEST  # 100,000
#: Offered faster than one worker drains it, so the kills land while a backlog is in flight.
PRODUCE_SECONDS = 5.0

pytestmark = pytest.mark.slow


def produce_steadily(
    bootstrap: str, topic: str, bodies: list[bytes], seconds: float
) -> threading.Thread:
    """Spread the bodies over ``seconds`` in 20 slices, in the background."""
    slices = 20

    def run() -> None:
        step = len(bodies) // slices
        for index in range(slices):
            chunk = bodies[index * step : (index + 1) * step if index < slices - 1 else None]
            produce(bootstrap, topic, [(body, ()) for body in chunk])
            time.sleep(seconds / slices)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def assert_nothing_lost_and_repeats_exact(seen: list[Consumed]) -> dict[str, int]:
    by_uuid: dict[str, Consumed] = {}
    duplicates = 0
    for record in seen:
        uuid = record.value["timeUUID"]
        first = by_uuid.setdefault(uuid, record)
        if first is not record:
            duplicates += 1
            assert (first.topic, first.key, first.value) == (record.topic, record.key, record.value)
    dead = sum(1 for record in seen if record.topic.endswith("events.invalid"))
    assert dead == 0, "the generated traffic is all valid"
    assert len(by_uuid) == TOTAL_EVENTS
    return {"received": len(seen), "unique": len(by_uuid), "duplicates": duplicates}


def run_with_kills(
    bootstrap: str,
    workers: list[WorkerProcess],
    kill_plan: Callable[[random.Random], list[float]],
    downtime: float = 0.0,
) -> dict[str, int]:
    """Produce for PRODUCE_SECONDS; at each planned moment kill -9 a worker, keep it down for
    ``downtime`` seconds, and restart it."""
    prefix = workers[0].env["TOPIC_PREFIX"]
    rng = random.Random(20261126)
    bodies = sample_requests(REQUESTS, events_per_request=EVENTS_PER_REQUEST, seed=11)
    producer = produce_steadily(bootstrap, prefix + "events.raw", bodies, PRODUCE_SECONDS)
    started = time.monotonic()
    kills = 0
    for moment in kill_plan(rng):
        time.sleep(max(0.0, moment - (time.monotonic() - started)))
        victim = workers[kills % len(workers)]
        victim.kill()
        kills += 1
        time.sleep(downtime)
        victim.start().wait_ready()
    producer.join(timeout=120)
    assert not producer.is_alive()
    seen = read_topics(
        bootstrap,
        output_topics(prefix),
        lambda got: len({record.value["timeUUID"] for record in got}) >= TOTAL_EVENTS,
        timeout=240,
        settle=3.0,
    )
    counts = assert_nothing_lost_and_repeats_exact(seen)
    counts["kills"] = kills
    print(f"\ncrash recovery: sent {TOTAL_EVENTS} events, {counts}")
    return counts


def test_one_worker_killed_three_times_loses_nothing(start_worker, bootstrap) -> None:
    worker = start_worker()
    counts = run_with_kills(
        bootstrap, [worker], lambda rng: sorted(rng.uniform(1.0, 12.0) for _ in range(3))
    )
    assert counts["kills"] == 3


def test_two_workers_one_killed_the_other_takes_over_and_it_comes_back(
    start_worker, bootstrap
) -> None:
    first = start_worker()
    second = start_worker(env={**first.env, "WEB_PORT": str(int(first.env["WEB_PORT"]) + 1)})
    # Down for longer than the session timeout and a rejoin: the survivor takes over the victim's
    # partitions, then hands some back when it returns.
    env = first.env
    downtime = float(env["BROKER_SESSION_TIMEOUT"]) + float(env["BROKER_REBALANCE_TIMEOUT"]) + 2
    counts = run_with_kills(
        bootstrap, [second, first], lambda rng: [rng.uniform(1.0, 4.0)], downtime=downtime
    )
    assert counts["kills"] == 1
    # Faust logs each assignment as a table row "| <topic> | {0-3} |": all four partitions of the
    # raw topic went to the survivor once at its start and once more when it took over.
    raw_topic = env["TOPIC_PREFIX"] + "events.raw"
    whole = [line for line in first.log().splitlines() if raw_topic in line and "{0-3}" in line]
    assert len(whole) >= 2, first.log()[-3000:]

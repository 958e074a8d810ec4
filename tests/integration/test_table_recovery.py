"""Metric tables survive kill -9: after a restart they hold what an uninterrupted run would,
plus at most the at-least-once repeats of the traffic not yet committed at the kill."""

from __future__ import annotations

import json
import time
from collections import Counter

import pytest

from tests.integration.kafka_io import produce
from tests.integration.test_metrics import until, windows

pytestmark = pytest.mark.slow
REQUESTS_PER_PHASE = 20
SPACING_S = 0.2
#: Faust commits every second (broker_commit_interval); with requests spaced as above, the
#: uncommitted tail at a kill is at most this many of the last requests.
UNCOMMITTED_REQUESTS = 10


def request(name: str, user: str) -> bytes:
    now = int(time.time() * 1000)
    events = [{"eventName": name, "time": now - 1_000, "user": {"userID": user}}] * 5
    return json.dumps({"events": events}).encode()


def counts(url: str) -> Counter[str]:
    totals: Counter[str] = Counter()
    for window in windows(url, "event_counts"):
        totals[window["key"]["eventName"]] += window["value"]["count"]
    return totals


def send_phase(bootstrap: str, topic: str, name: str) -> None:
    for index in range(REQUESTS_PER_PHASE):
        produce(bootstrap, topic, [(request(name, f"user-{index}"), ())])
        time.sleep(SPACING_S)


@pytest.mark.parametrize("store", ["memory://", "rocksdb://"])
def test_metric_tables_after_kill_and_restart_equal_an_uninterrupted_run(
    start_worker, bootstrap, store: str
) -> None:
    worker = start_worker(TABLE_STORE=store)
    raw = worker.env["TOPIC_PREFIX"] + "events.raw"
    per_phase = REQUESTS_PER_PHASE * 5

    send_phase(bootstrap, raw, "before_kill")
    until(lambda: counts(worker.web_url)["before_kill"] >= per_phase, 60, "phase one counted")
    worker.kill()
    worker.start().wait_ready()
    send_phase(bootstrap, raw, "after_restart")
    final = until(
        lambda: (c := counts(worker.web_url))["after_restart"] >= per_phase and c, 90, "phase two"
    )
    time.sleep(3)  # a late repeat would show here
    final = counts(worker.web_url)

    assert final["after_restart"] == per_phase, "nothing after the restart is counted twice"
    repeats = final["before_kill"] - per_phase
    assert 0 <= repeats <= UNCOMMITTED_REQUESTS * 5, final
    print(f"\n{store}: {dict(final)}, repeats {repeats}")

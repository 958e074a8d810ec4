"""kill -9 while events flow: nothing accepted is lost, and every repeat is an exact duplicate.

One round of the fault harness's worker scenarios (``make faults`` repeats them many times).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from faults.brokers import Broker
from faults.scenarios import FULL, SCENARIOS, Run

pytestmark = pytest.mark.slow


def run_scenario(name: str, bootstrap: str, work: Path) -> Run:
    run = SCENARIOS[name].run(Broker(bootstrap), work, FULL, 20261126)
    outcome = run.outcome
    print(
        f"\n{name}: expected {outcome.expected}, received {outcome.received}, lost {outcome.lost}"
        f" (raw messages {outcome.lost_requests[:10]}), duplicates {outcome.duplicates}"
    )
    assert outcome.lost == 0, outcome.lost_requests
    assert outcome.raw_lost == 0
    assert outcome.inexact_duplicates == 0
    return run


def test_one_worker_killed_three_times_loses_nothing(bootstrap: str, tmp_path: Path) -> None:
    run_scenario("worker-kill", bootstrap, tmp_path)


def test_two_workers_one_killed_the_other_takes_over_and_it_comes_back(
    bootstrap: str, tmp_path: Path
) -> None:
    run = run_scenario("worker-rejoin", bootstrap, tmp_path)
    # Faust logs each assignment as a table row "| <topic> | {0-3} |": all four partitions of the
    # raw topic went to the survivor once at its start and once more when it took over.
    survivor = run.logs[0].read_text(errors="replace")
    whole = [line for line in survivor.splitlines() if "events.raw" in line and "{0-3}" in line]
    assert len(whole) >= 2, survivor[-3000:]

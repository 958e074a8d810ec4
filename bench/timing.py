"""Wall-clock throughput with ``time.perf_counter``: calibrated passes, repeated, interleaved."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Rates:
    """Items per second over each repeat."""

    samples: list[float]

    @property
    def best(self) -> float:
        return max(self.samples)

    @property
    def median(self) -> float:
        return statistics.median(self.samples)


def _seconds(run: Callable[[], object], passes: int) -> float:
    gc.collect()
    start = time.perf_counter()
    for _ in range(passes):
        run()
    return time.perf_counter() - start


def measure_rates(
    runs: Mapping[str, Callable[[], object]],
    items_per_run: int,
    min_seconds: float,
    repeats: int,
) -> dict[str, Rates]:
    """The rate of each candidate ``run`` (handling ``items_per_run`` items per call).

    A warm-up call sizes each candidate's repeats to at least ``min_seconds``. Repeats of the
    candidates alternate, so a slow spell of a shared machine hits all of them alike and their
    ratio stays meaningful.
    """
    passes = {
        name: max(1, math.ceil(min_seconds / max(_seconds(run, 1), 1e-6)))
        for name, run in runs.items()
    }
    samples: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(repeats):
        for name, run in runs.items():
            samples[name].append(items_per_run * passes[name] / _seconds(run, passes[name]))
    return {name: Rates(rates) for name, rates in samples.items()}

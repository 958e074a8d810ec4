"""Where ``process_request`` spends its time: a sampling profile of the core workload.

pyinstrument samples the stack (built-ins included) with little overhead; each function's self
time is summed over all its call sites. A built-in is named with its caller, since
``Decoder.decode`` in ``_all_accepted`` and in ``UserCache.resolve`` are different costs.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Iterator
from typing import TYPE_CHECKING

from bench import workload
from bench.core import run_core
from bench.section import Row, RunOptions

if TYPE_CHECKING:
    from pyinstrument.frame import Frame

_ENTRY = "process_request"
_TOP = 12


def _frames(frame: Frame) -> Iterator[Frame]:
    stack = [frame]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(current.children)


def _name(frame: Frame) -> str:
    if frame.file_path_short in (None, "<built-in>") and frame.parent is not None:
        return f"{frame.function} (in {frame.parent.function})"
    file_name = (frame.file_path_short or "?").rsplit("/", 1)[-1]
    return f"{frame.function} ({file_name}:{frame.line_no})"


def self_time_shares(root: Frame) -> tuple[float, dict[str, float]]:
    """Total time under the entry point, and the self time of each function within it."""
    total = 0.0
    self_times: defaultdict[str, float] = defaultdict(float)
    for entry in _frames(root):
        if entry.function != _ENTRY:
            continue
        total += entry.time
        for frame in _frames(entry):
            if not frame.is_synthetic:
                self_times[_name(frame)] += frame.total_self_time
    return total, self_times


def measure(options: RunOptions) -> list[Row]:
    # The bench extra: imported here, so that the other sections run without it.
    from pyinstrument import Profiler

    bodies = workload.request_bodies()
    seconds = 1.5 if options.quick else 5.0
    run_core(bodies)  # warm caches before sampling
    profiler = Profiler(interval=0.0005)
    deadline = time.perf_counter() + seconds
    passes = 0
    profiler.start()
    while time.perf_counter() < deadline and passes < 1_000:
        run_core(bodies)
        passes += 1
    profiler.stop()
    root = profiler.last_session.root_frame() if profiler.last_session else None
    if root is None:
        return []
    total, self_times = self_time_shares(root)
    rows = [Row("profiled events", passes * len(bodies) * workload.EVENTS_PER_REQUEST, "events")]
    ranked = sorted(self_times.items(), key=lambda item: item[1], reverse=True)
    for name, spent in ranked[:_TOP]:
        rows.append(Row(f"self {name}", 100 * spent / total, "% of time"))
    return rows

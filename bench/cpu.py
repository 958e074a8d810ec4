"""CPU time of processes over a window of wall-clock time, from /proc/<pid>/stat (Linux).

A contender's window (first input consumed to last output acknowledged) is only known after
the fact, from its own clock; so a thread samples each process's user + system time every
0.1 s, and a window's CPU seconds come from the samples at its ends, interpolated.
"""

from __future__ import annotations

import bisect
import os
import threading
import time
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")
_SAMPLE_SECONDS = 0.1


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (all its threads)."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    # Fields after the command name, which is in parentheses and may hold spaces.
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


class CpuSampler:
    """Samples the CPU time of ``pids`` until stopped; use as a context manager."""

    def __init__(self, pids: dict[str, int]) -> None:
        """``pids``: a name for each process (``worker``, ``broker``...)."""
        self._pids = pids
        self._times: list[float] = []
        self._samples: list[dict[str, float]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)

    def _sample(self) -> None:
        now = time.time()
        sample = {}
        for name, pid in self._pids.items():
            try:
                sample[name] = cpu_seconds(pid)
            except (OSError, ValueError):  # exited: it uses no more CPU
                sample[name] = self._samples[-1][name] if self._samples else 0.0
        self._times.append(now)
        self._samples.append(sample)

    def _run(self) -> None:
        while not self._stop.wait(_SAMPLE_SECONDS):
            self._sample()

    def _at(self, name: str, when: float) -> float:
        index = bisect.bisect_left(self._times, when)
        if index == 0:
            return self._samples[0][name]
        if index == len(self._times):
            return self._samples[-1][name]
        t0, t1 = self._times[index - 1], self._times[index]
        v0, v1 = self._samples[index - 1][name], self._samples[index][name]
        return v0 + (v1 - v0) * (when - t0) / (t1 - t0)

    def between(self, start: float, end: float) -> dict[str, float]:
        """CPU seconds of each process from ``start`` to ``end`` (``time.time()`` values)."""
        return {name: self._at(name, end) - self._at(name, start) for name in self._pids}

    def __enter__(self) -> CpuSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()

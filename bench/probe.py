"""A Faust sensor that tells the bench when an app consumed its first message and acked its last.

Faust calls ``on_message_in`` when a consumed message enters a stream and ``on_message_out``
when every stream has acknowledged it; the ingest agent acknowledges a batch only after the
broker acknowledged all of its output. The sensor keeps, per topic, the wall-clock time of the
first message in, the count of messages out and the time of the last one out (with a history
of both), and writes them as JSON to ``BENCH_PROBE_PATH`` 0.1 s after they change: from the
event loop, at most ten times a second. Per message it costs a dict update and a clock read,
nothing next to the 50 events a raw message carries.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faust.sensors import Sensor
from faust.types import TP, AppT, Message

PATH_VARIABLE = "BENCH_PROBE_PATH"
_FLUSH_SECONDS = 0.1
_HISTORY = 3_000


class ProbeSensor(Sensor):
    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._path = path
        self._first_in: dict[str, float] = {}
        self._out: dict[str, int] = {}
        self._last_out: dict[str, float] = {}
        self._history: dict[str, list[tuple[int, float]]] = {}
        self._flush_due = False

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        if tp.topic not in self._first_in:
            self._first_in[tp.topic] = time.time()
            self._changed()

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        self._out[tp.topic] = self._out.get(tp.topic, 0) + 1
        self._last_out[tp.topic] = time.time()
        self._changed()

    def _changed(self) -> None:
        # Faust calls the sensors from the event loop: flush from it too, a moment later.
        if not self._flush_due:
            self._flush_due = True
            asyncio.get_running_loop().call_later(_FLUSH_SECONDS, self._flush)

    def _flush(self) -> None:
        self._flush_due = False
        for topic, count in self._out.items():
            history = self._history.setdefault(topic, [])
            if not history or history[-1][0] != count:
                history.append((count, self._last_out[topic]))
                del history[:-_HISTORY]
        state = {
            "first_in": self._first_in,
            "out": self._out,
            "last_out": self._last_out,
            "history": self._history,
        }
        partial = self._path.with_suffix(".tmp")
        partial.write_text(json.dumps(state))
        partial.replace(self._path)


def install(app: AppT) -> None:
    """Add the sensor to ``app`` when ``BENCH_PROBE_PATH`` is set; do nothing otherwise."""
    path = os.environ.get(PATH_VARIABLE)
    if path:
        app.sensors.add(ProbeSensor(Path(path)))


@dataclass(frozen=True)
class ProbeState:
    """What the sensor last wrote: per topic, epoch seconds and message counts."""

    first_in: dict[str, float]
    out: dict[str, int]
    last_out: dict[str, float]
    history: dict[str, list[tuple[int, float]]]
    """Per topic, (messages out, time of the last) at each write, the last few thousand."""

    @classmethod
    def read(cls, path: Path) -> ProbeState:
        if not path.exists():
            return cls({}, {}, {}, {})
        data = json.loads(path.read_text())
        return cls(data["first_in"], data["out"], data["last_out"], data["history"])

    def reached(self, topic: str, count: int) -> float | None:
        """When ``count`` messages of ``topic`` had been acknowledged (to within 0.1 s)."""
        for done, at in self.history.get(topic, ()):
            if done >= count:
                return at
        return None

"""A Faust sensor that tells the bench when an app consumed its first message and acked its last.

Faust calls ``on_message_in`` when a consumed message enters a stream and ``on_message_out``
when every stream has acknowledged it; the ingest agent acknowledges a batch only after the
broker acknowledged all of its output. The sensor keeps, per topic, the wall-clock time of the
first message in, the count of messages out and the time of the last one out, and a thread
writes them as JSON to ``BENCH_PROBE_PATH`` every 0.1 s while they change. Per message it costs
a dict lookup and two stores, which is nothing next to the 50 events a raw message carries.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faust.sensors import Sensor
from faust.types import TP, AppT, Message

PATH_VARIABLE = "BENCH_PROBE_PATH"
_FLUSH_SECONDS = 0.1


class ProbeSensor(Sensor):
    def __init__(self, path: Path, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._path = path
        self._first_in: dict[str, float] = {}
        self._out: dict[str, int] = {}
        self._last_out: dict[str, float] = {}
        self._changed = threading.Event()
        threading.Thread(target=self._flush_forever, name="bench-probe", daemon=True).start()

    def on_message_in(self, tp: TP, offset: int, message: Message) -> None:
        if tp.topic not in self._first_in:
            self._first_in[tp.topic] = time.time()
            self._changed.set()

    def on_message_out(self, tp: TP, offset: int, message: Message) -> None:
        self._out[tp.topic] = self._out.get(tp.topic, 0) + 1
        self._last_out[tp.topic] = time.time()
        self._changed.set()

    def _flush_forever(self) -> None:
        while True:
            self._changed.wait()
            self._changed.clear()
            state = {
                "first_in": dict(self._first_in),
                "out": dict(self._out),
                "last_out": dict(self._last_out),
            }
            partial = self._path.with_suffix(".tmp")
            partial.write_text(json.dumps(state))
            partial.replace(self._path)
            time.sleep(_FLUSH_SECONDS)


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

    @classmethod
    def read(cls, path: Path) -> ProbeState:
        if not path.exists():
            return cls({}, {}, {})
        data = json.loads(path.read_text())
        return cls(data["first_in"], data["out"], data["last_out"])

"""The status page: ``GET /`` (HTML), ``GET /status.json`` (what it shows), ``GET /healthz``.

The page (``status.html``, one self-contained document: no external script, style or font)
polls ``/status.json`` every two seconds and ``/v1/metrics/event_counts`` for the current
metric window. ``/status.json`` is this worker's view: its counters sampled once a second
(:data:`history`), rates over the last :data:`RATE_SECONDS`, and its consumer lag.
"""

from __future__ import annotations

import itertools
import time
from collections import deque
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

from faust.web import Request, Response, View

from agents.app import app, settings
from agents.observability import consumer_lag, dead_letters_out, events_in, raw_messages, totals
from agents.observability import records_out as records_counter

PAGE_PATH = Path(__file__).with_name("status.html")
SAMPLE_SECONDS = 1.0
HISTORY_SECONDS = 300
RATE_SECONDS = 10
"""Rates on the page are averages over this many seconds."""


class Sample(NamedTuple):
    """Cumulative counts at one moment (``at``: seconds since the epoch)."""

    at: float
    raw_messages: float
    events: float
    records: dict[str, float]
    dead_letters: dict[str, float]
    lag: int


def sample(now: float) -> Sample:
    lag = sum(consumer_lag().values()) if app.started else 0
    return Sample(
        at=now,
        raw_messages=totals(raw_messages).get("", 0.0),
        events=totals(events_in).get("", 0.0),
        records=totals(records_counter),
        dead_letters=totals(dead_letters_out),
        lag=lag,
    )


history: deque[Sample] = deque(maxlen=int(HISTORY_SECONDS / SAMPLE_SECONDS) + 1)
"""This worker's samples of the last :data:`HISTORY_SECONDS`, oldest first."""


@app.timer(SAMPLE_SECONDS)
async def sample_counters() -> None:
    history.append(sample(time.time()))


def _rate(new: float, old: float, seconds: float) -> float:
    return round(max(0.0, new - old) / seconds, 2) if seconds > 0 else 0.0


def _rates(new: Sample, old: Sample) -> dict[str, Any]:
    seconds = new.at - old.at
    return {
        "rawMessages": _rate(new.raw_messages, old.raw_messages, seconds),
        "events": _rate(new.events, old.events, seconds),
        "records": {
            kind: _rate(value, old.records.get(kind, 0.0), seconds)
            for kind, value in new.records.items()
        },
        "deadLetters": {
            reason: _rate(value, old.dead_letters.get(reason, 0.0), seconds)
            for reason, value in new.dead_letters.items()
        },
    }


def status(samples: list[Sample], now: Sample) -> dict[str, Any]:
    """``/status.json``: totals, rates over the last :data:`RATE_SECONDS`, per-second history."""
    since = [s for s in samples if s.at >= now.at - RATE_SECONDS - SAMPLE_SECONDS / 2]
    oldest = since[0] if since else now
    series = [*samples, now]
    steps = list(itertools.pairwise(series))
    window_start = settings.metrics_window.start(int(now.at * 1000))
    return {
        "worker": str(app.conf.canonical_url),
        "now": int(now.at * 1000),
        "rateSeconds": round(now.at - oldest.at, 1),
        "rates": _rates(now, oldest),
        "totals": {
            "rawMessages": now.raw_messages,
            "events": now.events,
            "records": now.records,
            "deadLetters": now.dead_letters,
        },
        "lag": {
            "total": now.lag,
            "partitions": [
                {"topic": tp.topic, "partition": tp.partition, "lag": behind}
                for tp, behind in sorted(consumer_lag().items())
            ]
            if app.started
            else [],
        },
        "metricWindow": {"start": window_start, "sizeMs": settings.metrics_window.size_ms},
        "history": {
            "t": [int(new.at * 1000) for _, new in steps],
            "records": {
                kind: [
                    _rate(new.records.get(kind, 0), old.records.get(kind, 0), new.at - old.at)
                    for old, new in steps
                ]
                for kind in now.records
            },
            "deadLetters": [
                _rate(
                    sum(new.dead_letters.values()), sum(old.dead_letters.values()), new.at - old.at
                )
                for old, new in steps
            ],
            "lag": [new.lag for _, new in steps],
        },
    }


@app.page("/")
class StatusPage(View):
    """``GET /``: the status page (it replaces Faust's ``{"status": "OK"}`` index)."""

    page: ClassVar[str] = PAGE_PATH.read_text(encoding="utf-8")

    async def get(self, request: Request) -> Response:
        return self.html(self.page, headers={"Cache-Control": "no-cache"})


@app.page("/status.json")
class StatusJson(View):
    """``GET /status.json``: what the status page shows, for this worker."""

    async def get(self, request: Request) -> Response:
        return self.json(status(list(history), sample(time.time())))


@app.page("/healthz")
class Health(View):
    """``GET /healthz``: 200 once the worker's HTTP server is up (container health checks)."""

    async def get(self, request: Request) -> Response:
        return self.json({"status": "OK"})

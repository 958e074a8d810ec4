"""Known traffic for the monitoring tests: requests whose records and dead letters are known."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import requests

from tests.integration.worker import WorkerProcess

DEV_SECRET = "secret-dev-statsig-stream"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def valid_body(user: str) -> bytes:
    """Two custom events, a gate exposure and a config change."""
    at = _now_ms()
    events = [
        {"eventName": "add_to_cart", "time": at, "value": 3},
        {"eventName": "checkout", "time": at},
        {
            "eventName": "statsig::gate_exposure",
            "time": at,
            "metadata": {"gate": "new_checkout", "gateValue": "true", "ruleID": "r-1"},
        },
        {"eventName": "statsig::config_change", "time": at, "metadata": {"config": "c"}},
    ]
    return json.dumps({"user": {"userID": user}, "events": events}).encode()


VALID_RECORDS = Counter({"custom": 2, "exposure": 1, "config_change": 1})


def userless_body() -> bytes:
    """One custom event and no user anywhere: a ``missing_user`` dead letter."""
    return json.dumps({"events": [{"eventName": "add_to_cart", "time": _now_ms()}]}).encode()


def post(worker: WorkerProcess, body: bytes, key: str = DEV_SECRET) -> requests.Response:
    return requests.post(
        worker.web_url + "/v1/log_event",
        data=body,
        headers={
            "statsig-api-key": key,
            "content-type": "application/json",
            "statsig-client-time": str(_now_ms() - 2_000),
        },
        timeout=30,
    )


def get_json(worker: WorkerProcess, path: str) -> Any:
    response = requests.get(worker.web_url + path, timeout=30)
    response.raise_for_status()
    return response.json()


class SteadyTraffic(threading.Thread):
    """Posts one valid request every ``interval`` seconds and a userless one every fifth, until
    stopped (at most ``limit`` requests)."""

    def __init__(self, worker: WorkerProcess, interval: float = 0.2, limit: int = 1500) -> None:
        super().__init__(daemon=True)
        self.worker = worker
        self.interval = interval
        self.limit = limit
        self.halt = threading.Event()
        self.statuses: Counter[int] = Counter()

    def run(self) -> None:
        for sent in range(self.limit):
            if self.halt.is_set():
                return
            body = userless_body() if sent % 5 == 4 else valid_body(f"user-{sent % 7}")
            self.statuses[post(self.worker, body).status_code] += 1
            self.halt.wait(self.interval)

    def stop(self) -> None:
        self.halt.set()
        self.join(timeout=60)

"""`make run-worker` with nothing configured: embedded broker, worker, and the CLI verbs."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from agents.kafka.embedded_broker import free_port
from processor import EventType, classify
from tests.integration.worker import REPO, WorkerProcess, worker_env

#: The newcomer's default, the embedded broker, runs these too (`make test`).
pytestmark = pytest.mark.smoke


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "agents", *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert completed.returncode == 0, f"{args} failed:\n{completed.stderr[-4000:]}"
    return completed


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_worker_without_broker_starts_embedded_one_and_cli_round_trips(tmp_path: Path) -> None:
    port = free_port()
    # An empty KAFKA_BROKER is no broker at all, whatever the test's own environment holds.
    env = worker_env("", tmp_path / "data", EMBEDDED_BROKER_PORT=str(port))
    worker = WorkerProcess(env, tmp_path / "worker.log").start()
    try:
        worker.wait_ready()
        assert f"embedded Tansu at kafka://127.0.0.1:{port}" in worker.log()

        produced = cli(env, "produce", "--count", "4", "--events", "25", "--clock-skew-ms", "30000")
        assert f"sent 4 requests to {env['TOPIC_PREFIX']}events.raw" in produced.stderr

        tailed = cli(env, "tail", "custom", "--count", "3", "--follow", "--timeout", "60")
        records = [orjson.loads(line) for line in tailed.stdout.splitlines()]
        assert len(records) == 3
        for record in records:
            assert classify(record["eventName"]) is EventType.CUSTOM
            assert 29_000 <= record["clockSkewMs"] <= 31_000
            if record["timestampClamped"]:
                assert record["timestamp"] == record["receivedAt"]
            else:
                assert record["timestamp"] == record["clientTimestamp"] + record["clockSkewMs"]
            assert len(record["timeUUID"]) == 36
    finally:
        assert worker.stop() == 0
    assert not port_open(port), "the embedded broker outlived its worker"

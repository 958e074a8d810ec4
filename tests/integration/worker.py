"""The real worker as a process, started the way `make run-worker` starts it."""

from __future__ import annotations

import uuid
from pathlib import Path

from agents.kafka.embedded_broker import free_port
from bench.worker import REPO, WORKER, AppProcess

__all__ = ["REPO", "WorkerProcess", "worker_env"]


class WorkerProcess(AppProcess):
    """One `python -m agents.run` with its own log file; the env decides broker and topics."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        super().__init__(WORKER, env, log_path)


def worker_env(broker_url: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    """A worker of its own: fresh topic prefix, consumer group, HTTP port and data dir."""
    run_id = uuid.uuid4().hex[:8]
    env = {
        "KAFKA_BROKER": broker_url,
        "TOPIC_PREFIX": f"t{run_id}.",
        "APP_ID": f"statsig-stream-{run_id}",
        "WEB_PORT": str(free_port()),
        "DATA_DIR": str(data_dir),
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_REBALANCE_TIMEOUT": "4",
        "LOG_LEVEL": "info",
    }
    env.update(overrides)
    return env

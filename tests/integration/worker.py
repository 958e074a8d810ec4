"""The real worker as a process, started the way `make run-worker` starts it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from agents.embedded_broker import free_port

REPO = Path(__file__).resolve().parents[2]
READY_LINE = "[^Worker]: Ready"


class WorkerProcess:
    """One `python -m agents.run` with its own log file; the env decides broker and topics."""

    def __init__(self, env: dict[str, str], log_path: Path) -> None:
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WEB_PORT']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> WorkerProcess:
        self._ready_marks = self.log().count(READY_LINE)
        log = open(self.log_path, "ab")  # noqa: SIM115 -- the child owns it
        self.process = subprocess.Popen(
            [sys.executable, "-m", "agents.run"],
            cwd=REPO,
            env={**os.environ, **self.env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        return self

    def wait_ready(self, timeout: float = 60.0) -> WorkerProcess:
        deadline = time.monotonic() + timeout
        while self.log().count(READY_LINE) <= self._ready_marks:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(f"worker exited early:\n{self.log()[-4000:]}")
            if time.monotonic() > deadline:
                raise TimeoutError(f"worker not ready in {timeout} s:\n{self.log()[-4000:]}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an operator would; SIGKILL if it does not exit in time."""
        process, self.process = self.process, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return process.returncode

    def kill(self) -> None:
        """kill -9: no shutdown, no final commit."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


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

"""A Faust app as a process of its own: the real worker, or the baseline app, on the bench's broker.

Each process gets a fresh topic prefix, consumer group, HTTP port and data directory, so runs
never read each other's offsets or topics.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from agents.kafka.embedded_broker import die_with_parent, free_port

REPO = Path(__file__).resolve().parents[1]
READY_LINE = "[^Worker]: Ready"
_ERROR_MARKS = ("Traceback", "[CRITICAL]")

#: The real worker, as `make run-worker` starts it.
WORKER = ("-m", "agents.run")
#: The real worker with the bench's probe sensor (see ``bench.probe``).
PROBED_WORKER = ("-m", "bench.probed_worker")
#: The idiomatic Faust app of ``bench.baseline_app``.
BASELINE = ("-m", "bench.baseline_app", "worker", "--loglevel", "info")


def app_env(broker_bootstrap: str, data_dir: Path, **overrides: str) -> dict[str, str]:
    """The environment of an app of its own on ``broker_bootstrap`` (host:port)."""
    run_id = uuid.uuid4().hex[:8]
    env = {
        "KAFKA_BROKER": f"kafka://{broker_bootstrap}",
        "TOPIC_PREFIX": f"b{run_id}.",
        "APP_ID": f"bench-{run_id}",
        "WEB_PORT": str(free_port()),
        "DATA_DIR": str(data_dir),
        "LOG_LEVEL": "info",
        # A lone member's first join waits for the rebalance timeout on Tansu: keep it short.
        "BROKER_SESSION_TIMEOUT": "6",
        "BROKER_REBALANCE_TIMEOUT": "4",
    }
    env.update(overrides)
    return env


def rss_bytes(pid: int) -> int:
    """Resident set size of process ``pid`` now, from /proc (Linux)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


class AppProcess:
    """One Faust app process; its output goes to ``log_path``."""

    def __init__(self, args: tuple[str, ...], env: dict[str, str], log_path: Path) -> None:
        self._ready_marks = 0
        self.args = args
        self.env = env
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def prefix(self) -> str:
        return self.env["TOPIC_PREFIX"]

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("the app is not running")
        return self.process.pid

    @property
    def web_url(self) -> str:
        return f"http://127.0.0.1:{self.env['WEB_PORT']}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def start(self) -> AppProcess:
        # A restart appends to the same log: readiness counts the Ready lines since this start.
        self._ready_marks = self.log().count(READY_LINE)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, *self.args],
                cwd=REPO,
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                # A test or bench killed outright leaves no worker behind on its broker.
                preexec_fn=die_with_parent,
            )
        return self

    def first_error(self) -> str:
        """The log from its first traceback or critical line on (a shutdown's own errors can
        fill its tail)."""
        text = self.log()
        found = [i for mark in _ERROR_MARKS if (i := text.find(mark)) >= 0]
        if not found:
            return ""
        # From the line before it: a logged traceback follows its message's line.
        start = text.rfind("\n", 0, text.rfind("\n", 0, min(found))) + 1
        return text[start : start + 3000]

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError(
                f"{' '.join(self.args)} exited early:\n--- its first error:\n"
                f"{self.first_error()}\n--- its last lines:\n{self.log()[-3000:]}"
            )

    def wait_ready(self, timeout: float = 90.0) -> AppProcess:
        deadline = time.monotonic() + timeout
        while self.log().count(READY_LINE) <= self._ready_marks:
            self.check_alive()
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready in {timeout} s:\n{self.log()[-3000:]}")
            time.sleep(0.1)
        return self

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an operator would; SIGKILL if it does not exit in time. The exit code."""
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

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

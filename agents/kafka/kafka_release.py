"""The pinned Apache Kafka release: its jars, resolved once with Maven into a cache.

Kafka is not a Python package, and there is no Docker engine to run its image: the broker's jars
(``org.apache.kafka:kafka_2.13``, KRaft, no ZooKeeper) come from Maven Central through ``mvn``,
into ``$LOCAL_KAFKA_CACHE/kafka-<version>/libs`` (default ``~/.cache/statsig-stream``), outside
any work tree. A later run finds them there and downloads nothing.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

#: The broker release; 4.4 runs on Java 17 (its classes are Java 17 bytecode).
KAFKA_VERSION = "4.4.0"
SCALA_VERSION = "2.13"
#: kafka_2.13's pom brings log4j-core but no SLF4J binding: the broker would log nothing.
LOGGING_JARS = (
    ("org.apache.logging.log4j", "log4j-slf4j2-impl", "2.25.5"),
    ("org.slf4j", "slf4j-api", "2.0.17"),
)
DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"
_COMPLETE = "complete"
"""Written last into a resolved directory: a directory without it was interrupted."""


class KafkaUnavailable(RuntimeError):
    """Java or Maven is missing, or the release could not be resolved."""


def tools_present() -> bool:
    """Whether this machine can run a local Apache Kafka: ``java`` and ``mvn`` on the PATH."""
    return shutil.which("java") is not None and shutil.which("mvn") is not None


def cache_root() -> Path:
    """LOCAL_KAFKA_CACHE, else the user's cache directory (XDG_CACHE_HOME, else ~/.cache)."""
    configured = os.environ.get("LOCAL_KAFKA_CACHE")
    if configured:
        return Path(configured).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "statsig-stream"


def pom_xml(version: str) -> str:
    """A pom whose runtime dependencies are exactly the broker's classpath."""
    coordinates = [("org.apache.kafka", f"kafka_{SCALA_VERSION}", version), *LOGGING_JARS]
    dependencies = "\n".join(
        f"    <dependency><groupId>{group}</groupId><artifactId>{artifact}</artifactId>"
        f"<version>{pinned}</version></dependency>"
        for group, artifact, pinned in coordinates
    )
    return f"""<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.statsig-stream</groupId>
  <artifactId>kafka-classpath</artifactId>
  <version>{version}</version>
  <packaging>pom</packaging>
  <dependencies>
{dependencies}
  </dependencies>
</project>
"""


@dataclass(frozen=True)
class Release:
    """One Kafka version's jars in the cache; ``resolve()`` fetches them when absent."""

    version: str = KAFKA_VERSION
    root: Path | None = None
    """The cache root; None: :func:`cache_root`."""

    @property
    def home(self) -> Path:
        return (self.root or cache_root()) / f"kafka-{self.version}"

    @property
    def libs(self) -> Path:
        return self.home / "libs"

    @property
    def classpath(self) -> str:
        """Every jar of the release, as a java -cp wildcard."""
        return str(self.libs / "*")

    def resolved(self) -> bool:
        return (self.home / _COMPLETE).is_file()

    def resolve(self, timeout: float = 900.0) -> float:
        """Fetch the jars unless the cache has them; the seconds it took (0 when cached)."""
        if self.resolved():
            return 0.0
        if not tools_present():
            raise KafkaUnavailable("a local Apache Kafka needs java and mvn on the PATH")
        started = time.monotonic()
        self.home.parent.mkdir(parents=True, exist_ok=True)
        # Fetched beside the cache entry and renamed into place: a cut-short run leaves no
        # half-filled directory, and two runs at once each finish their own copy.
        with tempfile.TemporaryDirectory(prefix=".fetching-", dir=self.home.parent) as tmp:
            pom, staging = Path(tmp) / "pom.xml", Path(tmp) / "release"
            pom.write_text(pom_xml(self.version))
            command = [
                "mvn",
                "--batch-mode",
                "--quiet",
                "-f",
                str(pom),
                f"{DEPENDENCY_PLUGIN}:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={staging / 'libs'}",
            ]
            done = subprocess.run(
                command, capture_output=True, text=True, timeout=timeout, check=False
            )
            if done.returncode != 0:
                raise KafkaUnavailable(
                    f"mvn could not resolve Apache Kafka {self.version}:\n"
                    f"{(done.stdout + done.stderr)[-3000:]}"
                )
            (staging / _COMPLETE).write_text(f"{self.version}\n")
            try:
                staging.rename(self.home)
            except OSError:
                if not self.resolved():  # not another run's copy that got there first
                    raise
        return time.monotonic() - started

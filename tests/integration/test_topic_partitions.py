"""A topic the worker co-partitions with its tables, found with another partition count: the
worker refuses to start and says why (without the check it waited 30 s for the declared count
and then ran on that one partition; in another run Faust stopped it with a bare
PartitionsMismatch)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.integration.kafka_io import create_topic
from tests.integration.worker import WorkerProcess, worker_env


def test_a_raw_topic_of_another_partition_count_is_refused_with_the_reason(
    bootstrap: str,
    run_workers: Callable[[dict[str, str], str], WorkerProcess],
    tmp_path: Path,
) -> None:
    env = worker_env(f"kafka://{bootstrap}", tmp_path / "data")
    raw = env["TOPIC_PREFIX"] + "events.raw"
    create_topic(bootstrap, raw, 1)  # as a producer's auto-created topic would be
    with pytest.raises(RuntimeError, match="exited early"):
        run_workers(env, "refused")
    log = (tmp_path / "refused-0.log").read_text()
    assert f"PartitionCountMismatch: topic {raw} exists with 1 partitions" in log
    assert "this worker needs TOPIC_PARTITIONS=4" in log
    assert "PartitionsMismatch" not in log  # Faust's own check never ran

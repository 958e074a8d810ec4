"""`replay` after a fix: dead letters go back to the raw topic and come out as records."""

from __future__ import annotations

import random
from collections import Counter

from processor.samples import sample_request
from tests.integration.kafka_io import produce, read_topics
from tests.integration.test_pipeline import output_topics
from tests.integration.test_run_worker import cli


def test_dead_letters_replayed_after_a_fix_become_records_and_repeats_are_recognisable(
    start_worker, bootstrap
) -> None:
    big = sample_request(random.Random(3), events_per_request=20)
    small_limit = str(len(big) // 2)
    worker = start_worker(MAX_BODY_BYTES=small_limit)
    env = worker.env
    prefix = env["TOPIC_PREFIX"]
    produce(bootstrap, prefix + "events.raw", [(big, ())])
    read_topics(bootstrap, [prefix + "events.invalid"], lambda got: len(got) >= 1)

    # The fix: the same worker group, restarted with the default body limit.
    worker.stop()
    start_worker(env={**env, "MAX_BODY_BYTES": ""})

    dry = cli(env, "replay", "--reason", "payload_too_large", "--dry-run")
    assert "payload_too_large: 1" in dry.stderr
    assert "dry run: 1 dead letters would be replayed" in dry.stderr
    for _ in range(2):
        replayed = cli(env, "replay", "--reason", "payload_too_large")
        assert f"replayed 1 dead letters to {prefix}events.raw" in replayed.stderr

    seen = read_topics(bootstrap, output_topics(prefix), lambda got: len(got) >= 1 + 2 * 20)
    records = [record for record in seen if not record.topic.endswith("events.invalid")]
    assert len(records) == 2 * 20
    # Both replays carry the original body: each event's timeUUID appears exactly twice.
    assert set(Counter(record.value["timeUUID"] for record in records).values()) == {2}
    assert Counter(record.topic.endswith("events.invalid") for record in seen)[True] == 1

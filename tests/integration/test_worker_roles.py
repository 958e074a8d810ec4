"""WORKER_ROLE against real workers: an ingress-only worker serves the Events API and joins no
consumer group; a processing-only worker processes what it takes and serves no Events API."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from aiokafka.admin import AIOKafkaAdminClient

from agents.kafka.embedded_broker import free_port
from agents.web.auth import DEVELOPMENT_KEYS
from tests.integration.kafka_io import read_topics
from tests.integration.worker import WorkerProcess, worker_env

pytestmark = pytest.mark.smoke


async def _group_members(bootstrap: str, group: str) -> list[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        answer = await admin.describe_consumer_groups([group])
        return [member[0] for member in answer[0].groups[0][5]]
    finally:
        await admin.close()


def _post(worker: WorkerProcess, user: str) -> requests.Response:
    event = {
        "eventName": "role_check",
        "user": {"userID": user},
        "time": int(time.time() * 1000) - 1000,
    }
    return requests.post(
        worker.web_url + "/v1/log_event",
        json={"events": [event]},
        headers={"statsig-api-key": DEVELOPMENT_KEYS["dev-secret"]},
        timeout=30,
    )


def test_ingress_and_processing_run_apart(
    bootstrap: str, run_workers: Callable[[dict[str, str], str], WorkerProcess], tmp_path: Path
) -> None:
    env = worker_env(f"kafka://{bootstrap}", tmp_path / "data")
    processing = run_workers({**env, "WORKER_ROLE": "process"}, "process")
    ingress_env = {**env, "WORKER_ROLE": "ingress", "WEB_PORT": str(free_port())}
    ingress = run_workers({**ingress_env, "DATA_DIR": str(tmp_path / "ingress")}, "ingress")

    answers = [_post(ingress, f"role-user-{n}") for n in range(5)]
    assert [answer.status_code for answer in answers] == [202] * 5
    # What the ingress-only worker took, the processing worker turned into records.
    custom = env["TOPIC_PREFIX"] + "events.custom"
    records = read_topics(bootstrap, [custom], lambda seen: len(seen) >= 5)
    users = sorted(record.value["user"]["userID"] for record in records)
    assert users == [f"role-user-{n}" for n in range(5)]

    # Only the processing worker is a member of the consumer group.
    members = asyncio.run(_group_members(bootstrap, env["APP_ID"]))
    assert len(members) == 1
    assert "Joined group" not in ingress.log()

    # Each serves only its half of the HTTP API.
    assert _post(processing, "nobody").status_code == 404
    reads = requests.get(ingress.web_url + "/v1/metrics/event_counts", timeout=30)
    assert reads.status_code == 404
    assert requests.get(processing.web_url + "/v1/metrics", timeout=30).status_code == 200
    for worker in (ingress, processing):
        assert requests.get(worker.web_url + "/healthz", timeout=30).status_code == 200

"""Keys and private data: no request without a valid key reaches the raw topic, and no key,
valid or not, is ever logged or written to any topic."""

from __future__ import annotations

import asyncio
import json
import time

import requests
from aiokafka import AIOKafkaConsumer

from tests.integration.kafka_io import read_topics

VALID = {"backend": "secret-backend-Zq8v1", "web": "client-web-Kx3p9"}
REFUSED = ("secret-guessed-Wm5t2", "client-stale-Pj7r4")
PRIVATE = "private-value-Hs2n6"


def body(tag: str) -> bytes:
    user = {"userID": f"{tag}-user", "privateAttributes": {"ssn": PRIVATE}}
    event = {"eventName": "purchase", "value": 5, "time": int(time.time() * 1000) - 1_000}
    broken = {"eventName": "purchase", "user": {**user, "country": "usa"}}
    return json.dumps({"user": user, "events": [event, broken]}).encode()


def prefixed_topics(bootstrap: str, prefix: str) -> list[str]:
    async def run() -> list[str]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
        await consumer.start()
        try:
            return sorted(topic for topic in await consumer.topics() if topic.startswith(prefix))
        finally:
            await consumer.stop()

    return asyncio.run(run())


def test_keys_and_private_attributes_never_leave_the_worker(start_worker, bootstrap) -> None:
    keys = ",".join(f"{name}={key}" for name, key in VALID.items())
    worker = start_worker(API_KEYS=keys)
    prefix = worker.env["TOPIC_PREFIX"]
    url = worker.web_url + "/v1/log_event"

    accepted = [
        requests.post(
            url, data=body("a"), headers={"STATSIG-API-KEY": VALID["backend"]}, timeout=30
        ),
        requests.post(url, data=body("b"), params={"k": VALID["web"]}, timeout=30),
    ]
    refused = [
        requests.post(url, data=body("c"), headers={"statsig-api-key": key}, timeout=30)
        for key in REFUSED
    ]
    refused.append(requests.post(url, data=body("d"), params={"k": REFUSED[0]}, timeout=30))
    refused.append(requests.post(url, data=body("e"), timeout=30))
    assert [r.status_code for r in accepted] == [202, 202]
    assert [r.status_code for r in refused] == [401, 401, 401, 401]

    # Each accepted request: one record and one dead letter (the broken country).
    outputs = [prefix + "events.custom", prefix + "events.invalid"]
    read_topics(bootstrap, outputs, lambda got: len(got) >= 4)
    raw = read_topics(bootstrap, [prefix + "events.raw"], lambda got: len(got) >= 2)
    assert sorted(r.value["user"]["userID"] for r in raw) == [
        "a-user",
        "b-user",
    ], "only the requests with a valid key reached the raw topic"

    everything = read_topics(
        bootstrap, prefixed_topics(bootstrap, prefix), lambda got: len(got) >= 6, settle=2.0
    )
    written = b"\n".join(
        (r.value if isinstance(r.value, bytes) else json.dumps(r.value).encode())
        + (r.key or b"")
        + b"".join(r.headers.values())
        for r in everything
        if not r.topic.endswith("events.raw")
    )
    for secret in (*VALID.values(), *REFUSED):
        assert secret.encode() not in written
        assert secret not in worker.log(), f"{secret} was logged"
    raw_headers = b"".join(value for r in raw for value in r.headers.values())
    for secret in VALID.values():
        assert secret.encode() not in raw_headers
    assert PRIVATE.encode() not in written, "privateAttributes reached an output topic"
    assert b"statsig-key-id" in b"".join(name.encode() for r in raw for name in r.headers)

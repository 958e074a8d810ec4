"""The Events API over HTTP against the real worker: what reaches the raw topic, what comes out
typed, every error status, CORS, and a 503 when the broker cannot take a request."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from aiokafka import AIOKafkaConsumer

from agents.kafka.embedded_broker import EmbeddedBroker, free_port
from agents.kafka.metadata import topic_partitions
from agents.web.auth import key_id_of
from processor import EventType, classify
from processor.skew import rounded
from tests.integration.kafka_io import read_topics
from tests.integration.worker import REPO, WorkerProcess, worker_env

#: The newcomer's default, the embedded broker, runs these too (`make test`).
pytestmark = pytest.mark.smoke

BEHIND_MS = 60_000
OUTPUT_SUFFIXES = [f"events.{kind.value}" for kind in EventType] + ["events.invalid"]
SDK_HEADERS = "content-type,statsig-api-key,statsig-client-time"
SECRETS = ("secret-backend-key-1", "client-web-key-1", "secret-unnamed-key-1")


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def post(
    worker: WorkerProcess,
    path: str,
    body: Any,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
) -> requests.Response:
    return requests.post(
        worker.web_url + path, data=body, headers=headers or {}, params=params, timeout=60
    )


def request_body(tag: str, event_time: int) -> bytes:
    """One event of each type for the user ``<tag>-user``, as an SDK would batch them."""
    user = {"userID": f"{tag}-user", "privateAttributes": {"email": "someone@example.com"}}
    events = [
        {"eventName": "add_to_cart", "value": 3, "time": event_time, "metadata": {"sku": "s-1"}},
        {
            "eventName": "statsig::gate_exposure",
            "time": event_time,
            "metadata": {"gate": "new_checkout", "gateValue": "true", "ruleID": "r-1"},
        },
        {"eventName": "statsig::config_change", "time": event_time, "metadata": {"config": "c"}},
        {"eventName": "statsig::diagnostics", "time": event_time, "metadata": {"k": "init"}},
    ]
    return json.dumps(
        {"user": user, "events": events, "statsigMetadata": {"sdkType": "t"}}
    ).encode()


def read_raw(bootstrap: str, topic: str, count: int, timeout: float = 60.0) -> list[Any]:
    """The raw topic's records from the start, bytes as stored, until ``count`` have come (and
    one more second, so that an unexpected extra one would show)."""

    async def run() -> list[Any]:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions = await topic_partitions(bootstrap, [topic])
            consumer.assign(partitions)
            await consumer.seek_to_beginning(*partitions)
            records: list[Any] = []
            deadline = time.monotonic() + timeout
            settle_until: float | None = None
            while time.monotonic() < deadline:
                for batch in (await consumer.getmany(timeout_ms=200)).values():
                    records.extend(batch)
                if settle_until is None and len(records) >= count:
                    settle_until = time.monotonic() + 1.0
                if settle_until is not None and time.monotonic() >= settle_until:
                    break
            return records
        finally:
            await consumer.stop()

    return asyncio.run(run())


def output_topics(prefix: str) -> list[str]:
    return [prefix + suffix for suffix in OUTPUT_SUFFIXES]


def test_requests_reach_raw_topic_as_sent_and_come_out_typed_with_skew_corrected(
    start_worker, bootstrap, tmp_path: Path
) -> None:
    keys_file = tmp_path / "api-keys"
    keys_file.write_text("# the backend's key\nbackend=secret-backend-key-1\n\n")
    worker = start_worker(
        API_KEYS="web=client-web-key-1, secret-unnamed-key-1",
        API_KEYS_FILE=str(keys_file),
        CORS_ORIGINS="https://app.example",
    )
    prefix = worker.env["TOPIC_PREFIX"]
    client_time = now_ms() - BEHIND_MS
    event_time = client_time - 1_000
    bodies = {
        # A server SDK: key and client time in headers (any letter case), plain JSON.
        "srv": request_body("srv", event_time),
        # @statsig/js-client: everything in the query, gzip flagged by gz=1.
        "web": gzip.compress(request_body("web", event_time)),
        # A webhook: deflate, a key configured without a name.
        "hook": zlib.compress(request_body("hook", event_time)),
        # No client time: accepted, no skew correction.
        "noclock": request_body("noclock", now_ms() - 5_000),
    }
    answers = [
        post(
            worker,
            "/v1/log_event",
            bodies["srv"],
            headers={
                "STATSIG-API-KEY": "secret-backend-key-1",
                "STATSIG-CLIENT-TIME": str(client_time),
                "STATSIG-SDK-TYPE": "py-server",
                "STATSIG-SDK-VERSION": "0.72.1",
                "Content-Type": "application/json",
            },
        ),
        post(
            worker,
            "/v1/rgstr",
            bodies["web"],
            headers={"Content-Type": "text/plain;charset=UTF-8", "Origin": "https://app.example"},
            params={
                "k": "client-web-key-1",
                "st": "javascript-client",
                "sv": "3.12.0",
                "t": str(client_time),
                "sid": "session-1",
                "ec": "4",
                "gz": "1",
            },
        ),
        post(
            worker,
            "/v1/webhooks/event_webhook",
            bodies["hook"],
            headers={
                "statsig-api-key": "secret-unnamed-key-1",
                "statsig-client-time": str(client_time),
                "Content-Encoding": "deflate",
            },
        ),
        post(
            worker, "/v1/log_event", bodies["noclock"], {"Statsig-Api-Key": "secret-backend-key-1"}
        ),
    ]
    for answer in answers:
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"success": True}
    # A browser on an allowed origin may read the answer.
    assert answers[1].headers["Access-Control-Allow-Origin"] == "https://app.example"
    # With keys configured, the development keys are refused.
    refused = post(
        worker, "/v1/log_event", bodies["srv"], {"statsig-api-key": "secret-dev-statsig-stream"}
    )
    assert refused.status_code == 401

    # The raw topic holds each body byte for byte, with the transport facts in headers.
    raw = read_raw(bootstrap, prefix + "events.raw", len(bodies))
    assert sorted(record.value for record in raw) == sorted(bodies.values())
    tag_of = {body: tag for tag, body in bodies.items()}
    headers = {tag_of[record.value]: dict(record.headers) for record in raw}
    for tag, expected in {
        "srv": {"statsig-source": b"log_event", "statsig-key-id": b"backend",
                "content-encoding": b"identity", "statsig-sdk-type": b"py-server",
                "statsig-sdk-version": b"0.72.1"},
        "web": {"statsig-source": b"rgstr", "statsig-key-id": b"web", "content-encoding": b"gzip",
                "statsig-sdk-type": b"javascript-client", "statsig-sdk-version": b"3.12.0"},
        "hook": {"statsig-source": b"webhook",
                 "statsig-key-id": key_id_of("secret-unnamed-key-1").encode(),
                 "content-encoding": b"deflate"},
        "noclock": {"statsig-source": b"log_event", "statsig-key-id": b"backend",
                    "content-encoding": b"identity"},
    }.items():  # fmt: skip
        got = headers[tag]
        assert {name: got.get(name) for name in expected} == expected, tag
        assert got.get("statsig-client-time") == (
            None if tag == "noclock" else str(client_time).encode()
        )
        assert client_time < int(got["statsig-received-at"]) <= now_ms()
        for value in got.values():
            assert not any(secret.encode() in value for secret in SECRETS)

    # Every event comes out on the topic of its type, its time moved onto the server's clock.
    seen = read_topics(bootstrap, output_topics(prefix), lambda got: len(got) >= 16)
    assert len(seen) == 16, [record.value for record in seen if record.topic.endswith("invalid")]
    for record in seen:
        value = record.value
        tag = value["userID"].removesuffix("-user")
        assert record.topic == f"{prefix}events.{classify(value['eventName']).value}"
        received_at = int(headers[tag]["statsig-received-at"])
        assert value["receivedAt"] == received_at
        # R - C rounded to the default granularity, 1 s (DESIGN §3).
        skew = 0 if tag == "noclock" else rounded(received_at - client_time, 1_000)
        assert value["clockSkewMs"] == skew
        assert value["timestamp"] == value["clientTimestamp"] + skew
        assert value["timestampClamped"] is False
        assert "privateAttributes" not in value["user"]
    assert sorted({record.value["userID"] for record in seen}) == sorted(
        f"{tag}-user" for tag in bodies
    )


def test_cors_preflight_allows_configured_origins_and_the_spec_is_served(start_worker) -> None:
    worker = start_worker(CORS_ORIGINS="https://app.example https://admin.example")
    for path in ("/v1/log_event", "/v1/rgstr", "/v1/webhooks/event_webhook"):
        preflight = requests.options(
            worker.web_url + path,
            headers={
                "Origin": "https://admin.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": SDK_HEADERS,
            },
            timeout=30,
        )
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["Access-Control-Allow-Origin"] == "https://admin.example"
        assert "POST" in preflight.headers["Access-Control-Allow-Methods"]
        allowed = preflight.headers["Access-Control-Allow-Headers"].lower().split(",")
        assert {"content-type", "statsig-api-key", "statsig-client-time"} <= set(allowed)
    other = requests.options(
        worker.web_url + "/v1/rgstr",
        headers={"Origin": "https://elsewhere.example", "Access-Control-Request-Method": "POST"},
        timeout=30,
    )
    assert other.status_code == 403
    assert "Access-Control-Allow-Origin" not in other.headers

    spec = requests.get(
        worker.web_url + "/openapi.yaml", headers={"Origin": "https://app.example"}, timeout=30
    )
    assert spec.status_code == 200
    assert spec.headers["Content-Type"].startswith("application/yaml")
    assert spec.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert spec.content == (REPO / "agents" / "web" / "openapi.yaml").read_bytes()


def _chunks(total: int) -> Iterator[bytes]:
    """A body sent chunked, with no Content-Length to refuse it by."""
    yield b'{"events": ['
    for _ in range(total // 1000):
        yield b" " * 1000
    yield b"]}"


def test_each_refused_request_gets_its_status_and_reaches_nothing(start_worker, bootstrap) -> None:
    worker = start_worker(HTTP_MAX_REQUEST_BYTES="4096", MAX_BODY_BYTES="65536")
    prefix = worker.env["TOPIC_PREFIX"]
    key = {"statsig-api-key": "secret-dev-statsig-stream"}
    event = {"eventName": "e", "user": {"userID": "u"}}
    bomb = gzip.compress(b'{"events": [' + b" " * 1_000_000 + b"]}")
    assert len(bomb) < 4096
    cases: list[tuple[str, str, Any, dict[str, str], dict[str, str], int, str]] = [
        ("not JSON", "/v1/log_event", b"{not json", key, {}, 400, "body is not JSON"),
        ("no body", "/v1/log_event", b"", key, {}, 400, "no body"),
        ("array", "/v1/log_event", json.dumps([event]), key, {}, 400, "not an ingestion request"),
        ("no events", "/v1/log_event", json.dumps({"user": {"userID": "u"}}), key, {}, 400,
         "missing required field `events`"),
        ("events not array", "/v1/log_event", json.dumps({"events": event}), key, {}, 400,
         "`$.events`"),
        ("empty events", "/v1/rgstr", json.dumps({"events": []}), key, {}, 400,
         "`events` is empty"),
        ("corrupt gzip", "/v1/log_event", b"\x1f\x8bnot gzip at all",
         {**key, "Content-Encoding": "gzip"}, {}, 400, "not valid gzip"),
        ("client time", "/v1/log_event", json.dumps({"events": [event]}),
         {**key, "STATSIG-CLIENT-TIME": "yesterday"}, {}, 400, "STATSIG-CLIENT-TIME"),
        ("negative client time", "/v1/log_event", json.dumps({"events": [event]}),
         {**key, "STATSIG-CLIENT-TIME": "-5"}, {}, 400, "STATSIG-CLIENT-TIME"),
        ("t parameter", "/v1/rgstr", json.dumps({"events": [event]}), {},
         {"k": "client-dev-statsig-stream", "t": "soon"}, 400, "the t parameter"),
        ("no key", "/v1/log_event", json.dumps({"events": [event]}), {}, {}, 401,
         "missing API key"),
        ("unknown key", "/v1/rgstr", json.dumps({"events": [event]}), {},
         {"k": "client-not-configured"}, 401, "unknown API key"),
        ("client key on webhook", "/v1/webhooks/event_webhook", json.dumps({"events": [event]}),
         {"statsig-api-key": "client-dev-statsig-stream"}, {}, 401, "server secret"),
        ("too large", "/v1/log_event", b"{" + b" " * 5000 + b"}", key, {}, 413,
         "exceeds the limit of 4096"),
        ("too large, chunked", "/v1/log_event", _chunks(10_000), key, {}, 413,
         "exceeds the limit of 4096"),
        ("gzip bomb", "/v1/log_event", bomb, {**key, "Content-Encoding": "gzip"}, {}, 413,
         "inflates past the limit of 65536"),
        ("brotli", "/v1/log_event", b"\x0b\x01\x80", {**key, "Content-Encoding": "br"}, {}, 415,
         "unsupported content-encoding 'br'"),
    ]  # fmt: skip
    for name, path, body, headers, params, status, message in cases:
        answer = post(worker, path, body, headers, params)
        assert answer.status_code == status, (name, answer.text)
        assert answer.headers["Content-Type"].startswith("application/json"), name
        error = answer.json()
        assert error["status"] == status, name
        assert message in error["message"], (name, error)
        assert set(error) == {"message", "status"}, name

    # Nothing of the above reached the raw topic: the one accepted request after them is alone.
    marker = json.dumps({"events": [event], "marker": True}).encode()
    assert post(worker, "/v1/log_event", marker, key).status_code == 202
    assert [record.value for record in read_raw(bootstrap, prefix + "events.raw", 1)] == [marker]


def test_a_broker_that_cannot_take_the_request_gets_503_so_the_sdk_retries(
    start_worker, tmp_path: Path
) -> None:
    # A broker of this test's own: the session broker is shared and must keep running.
    with EmbeddedBroker(port=free_port(), log_path=tmp_path / "own-broker.log") as broker:
        env = worker_env(broker.url, tmp_path / "data", HTTP_ACK_TIMEOUT_SECONDS="3")
        worker = start_worker(env=env)
        body = json.dumps({"events": [{"eventName": "e", "user": {"userID": "u"}}]})
        key = {"statsig-api-key": "secret-dev-statsig-stream"}
        assert post(worker, "/v1/log_event", body, key).status_code == 202
        broker.stop()
        answer = post(worker, "/v1/log_event", body, key)
    assert answer.status_code == 503, answer.text
    assert answer.json() == {
        "message": "the event broker did not acknowledge the request; retry later",
        "status": 503,
    }
    assert answer.headers["Retry-After"] == "1"

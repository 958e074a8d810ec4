"""DESIGN §3, clock-skew correction: R = received-at, C = client time, E = the event's time."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from raw_messages import (
    ABSENT,
    RECORD_TIMESTAMP,
    accepted,
    body,
    event,
    only_record,
    process,
    rejected,
    value_of,
)

from processor import ProcessorConfig, process_request
from processor.skew import rounded

R = RECORD_TIMESTAMP
ONE_YEAR_MS = 365 * 24 * 3_600_000


def client_time(ms: int | str) -> dict[str, str]:
    return {"statsig-client-time": str(ms)}


def test_without_client_time_header_the_event_time_is_kept_and_skew_is_zero() -> None:
    record = accepted(event(time=R - 5_000))
    assert record["timestamp"] == R - 5_000
    assert record["clockSkewMs"] == 0
    assert record["clientTimestamp"] == R - 5_000
    assert record["receivedAt"] == R
    assert record["timestampClamped"] is False


def test_slow_client_clock_is_corrected_by_received_at_minus_client_time() -> None:
    sent = R - 5_000  # the client's clock runs 5 s behind the server's
    record = accepted(event(time=sent - 1_000), headers=client_time(sent))
    assert record["clockSkewMs"] == 5_000
    assert record["timestamp"] == R - 1_000
    assert record["clientTimestamp"] == sent - 1_000


def test_fast_client_clock_is_corrected_not_clamped() -> None:
    sent = R + 3_600_000  # an hour ahead: the raw event time lies in the server's future
    record = accepted(event(time=sent - 2_000), headers=client_time(sent))
    assert record["clockSkewMs"] == -3_600_000
    assert record["timestamp"] == R - 2_000
    assert record["timestampClamped"] is False


@pytest.mark.parametrize(
    "header",
    [str(R - 2 * ONE_YEAR_MS), str(R + 2 * ONE_YEAR_MS), "yesterday", "-5", "1.7e12", ""],
    ids=["two-years-behind", "two-years-ahead", "text", "negative", "float", "empty"],
)
def test_client_time_header_that_is_not_sane_gives_no_correction(header: str) -> None:
    record = accepted(event(time=R - 7_000), headers=client_time(header))
    assert record["clockSkewMs"] == 0
    assert record["timestamp"] == R - 7_000


def test_client_time_is_sane_up_to_the_configured_max_skew_and_not_beyond() -> None:
    config = ProcessorConfig(max_clock_skew_ms=10_000)
    data = body(event(time=R - 20_000))
    at_limit = only_record(process(data, client_time(R - 10_000), config=config))
    past_limit = only_record(process(data, client_time(R - 10_001), config=config))
    assert value_of(at_limit)["clockSkewMs"] == 10_000
    assert value_of(past_limit)["clockSkewMs"] == 0


def test_event_later_than_arrival_is_clamped_to_received_at() -> None:
    record = accepted(event(time=R + 1_001))
    assert record["timestamp"] == R
    assert record["timestampClamped"] is True
    assert record["clientTimestamp"] == R + 1_001


def test_event_just_inside_the_default_one_second_tolerance_is_kept() -> None:
    record = accepted(event(time=R + 1_000))
    assert record["timestamp"] == R + 1_000
    assert record["timestampClamped"] is False


def test_clamp_judges_the_corrected_time() -> None:
    sent = R - 10_000  # skew +10 s: both raw times below lie before R
    kept = accepted(event(time=sent + 500), headers=client_time(sent))
    clamped = accepted(event(time=sent + 2_000), headers=client_time(sent))
    assert (kept["timestamp"], kept["timestampClamped"]) == (R + 500, False)
    assert (clamped["timestamp"], clamped["timestampClamped"]) == (R, True)
    assert clamped["clockSkewMs"] == 10_000


def test_future_tolerance_is_configurable() -> None:
    config = ProcessorConfig(future_tolerance_ms=0)
    record = value_of(only_record(process(body(event(time=R + 1)), config=config)))
    assert record["timestamp"] == R
    assert record["timestampClamped"] is True


def test_event_without_time_was_created_when_a_sane_client_clock_sent_it() -> None:
    sent = R - 3_000
    record = accepted(event(time=ABSENT), headers=client_time(sent))
    assert record["clientTimestamp"] == sent
    assert record["clockSkewMs"] == 3_000
    assert record["timestamp"] == R


@pytest.mark.parametrize("headers", [{}, client_time(R - 2 * ONE_YEAR_MS)], ids=["none", "insane"])
def test_event_without_time_and_without_sane_client_time_takes_received_at(
    headers: dict[str, str],
) -> None:
    record = accepted(event(time=ABSENT), headers=headers)
    assert record["clientTimestamp"] == R
    assert record["timestamp"] == R
    assert record["clockSkewMs"] == 0


def test_event_time_as_numeric_string_is_accepted() -> None:
    record = accepted(event(time=str(R - 4_000)))
    assert record["timestamp"] == R - 4_000
    assert record["clientTimestamp"] == R - 4_000


def test_seed_003_timestamp_is_the_event_time_when_time_is_absent() -> None:
    record = accepted(event(time=ABSENT, timestamp=str(R - 5_000)))
    assert record["clientTimestamp"] == R - 5_000


def test_time_wins_over_seed_003_timestamp() -> None:
    record = accepted(event(time=R - 6_000, timestamp=R - 5_000))
    assert record["clientTimestamp"] == R - 6_000


@pytest.mark.parametrize("time", ["soon", "1.5e12", " 123", 1.5, True])
def test_event_time_that_is_not_integer_milliseconds_is_an_invalid_event(time: object) -> None:
    letter = rejected(event(time=time))
    assert letter["reason"] == "invalid_event"
    assert "$.events[0].time" in letter["error"]


def test_received_at_header_overrides_the_record_timestamp() -> None:
    server = R + 5_000
    headers = {"statsig-received-at": str(server), **client_time(server - 1_000)}
    record = accepted(event(time=R), headers=headers)
    assert record["receivedAt"] == server
    assert record["clockSkewMs"] == 1_000
    assert record["timestamp"] == R + 1_000


def test_record_timestamp_is_received_at_when_the_header_is_absent_or_unreadable() -> None:
    for headers in ({}, {"statsig-received-at": "later"}):
        record = value_of(only_record(process(body(event()), headers, record_timestamp=R + 9)))
        assert record["receivedAt"] == R + 9


def test_headers_are_read_as_kafka_sends_them_in_any_letter_case() -> None:
    kafka_headers = [("Statsig-Client-Time", str(R - 2_000).encode())]
    result = process_request(body(event(time=R - 2_500)), kafka_headers, R)
    record = value_of(only_record(result))
    assert record["clockSkewMs"] == 2_000
    assert record["timestamp"] == R - 500


@pytest.mark.parametrize(
    ("behind_ms", "skew_ms"),
    [(0, 0), (8, 0), (499, 0), (500, 1_000), (1_499, 1_000), (1_750, 2_000), (-499, 0),
     (-500, -1_000), (-2_600, -3_000), (60_010, 60_000)],
)  # fmt: skip
def test_skew_is_rounded_to_whole_seconds(behind_ms: int, skew_ms: int) -> None:
    sent = R - behind_ms
    record = accepted(event(time=sent - 1_000), headers=client_time(sent))
    assert record["clockSkewMs"] == skew_ms
    assert record["timestamp"] == sent - 1_000 + skew_ms


def test_a_client_in_sync_gets_no_correction_for_its_transit_time() -> None:
    sent = R - 8  # 8 ms on the wire, the clocks agree
    record = accepted(event(time=sent - 300), headers=client_time(sent))
    assert record["clockSkewMs"] == 0
    assert record["timestamp"] == record["clientTimestamp"] == sent - 300


def test_a_retry_stamped_anew_gets_the_times_and_uuids_of_its_first_attempt() -> None:
    """Statsig's SDKs resend the same body with a fresh STATSIG-CLIENT-TIME on a retry."""
    data = body(event(time=R - 60_000), event(time=R - 59_000, eventName="b"))
    first = process(data, {**client_time(R - 5_008), "statsig-received-at": str(R)})
    retry = process(data, {**client_time(R + 700 - 5_010), "statsig-received-at": str(R + 700)})
    assert [r.time_uuid for r in first.records] == [r.time_uuid for r in retry.records]
    assert [value_of(r)["timestamp"] for r in first.records] == [
        value_of(r)["timestamp"] for r in retry.records
    ]


@pytest.mark.parametrize(
    ("granularity", "skew_ms"), [(0, 1_750), (1, 1_750), (250, 1_750), (5_000, 0)]
)
def test_the_skew_granularity_is_configurable(granularity: int, skew_ms: int) -> None:
    config = ProcessorConfig(clock_skew_granularity_ms=granularity)
    data = body(event(time=R - 9_000))
    record = value_of(only_record(process(data, client_time(R - 1_750), config=config)))
    assert record["clockSkewMs"] == skew_ms


def test_an_event_without_time_of_a_trusted_clock_in_sync_takes_the_send_time() -> None:
    sent = R - 40
    record = accepted(event(time=ABSENT), headers=client_time(sent))
    assert record["clockSkewMs"] == 0
    assert record["clientTimestamp"] == record["timestamp"] == sent


@given(st.integers(-(10**12), 10**12), st.integers(2, 10**6))
def test_a_rounded_skew_is_the_nearest_multiple_and_symmetric(skew: int, granularity: int) -> None:
    result = rounded(skew, granularity)
    assert result % granularity == 0
    assert abs(result - skew) <= granularity // 2 + granularity % 2
    assert rounded(-skew, granularity) == -result

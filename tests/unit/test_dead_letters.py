"""DESIGN §4, events.invalid: a stable reason, the field path, the event index, the source
headers and the original, so that a rejected event can be found, fixed and replayed."""

from __future__ import annotations

from raw_messages import RECORD_TIMESTAMP, USER, body, event, only_dead_letter, value_of

from processor import DeadLetterReason, ProcessorConfig, process_request

ORIGIN = {"topic": "statsig.events.raw", "partition": 3, "offset": 1_234}
HEADERS = {
    "statsig-source": "log_event",
    "statsig-sdk-type": "js-client",
    "statsig-sdk-version": "4.20.0",
    "statsig-key-id": "key-7",
    "statsig-client-time": str(RECORD_TIMESTAMP - 10),
    "statsig-received-at": str(RECORD_TIMESTAMP),
    "content-encoding": "identity",
}


def test_reason_codes_are_the_stable_ones_of_the_contract() -> None:
    assert {reason.value for reason in DeadLetterReason} == {
        "invalid_encoding",
        "payload_too_large",
        "invalid_json",
        "invalid_request",
        "invalid_event",
        "missing_user",
        "missing_unit_id",
    }


def test_event_dead_letter_carries_what_a_replay_needs() -> None:
    bad = {"eventName": "", "user": USER, "time": 5}
    request_metadata = {"sdkType": "js-client"}
    data = body(event(), bad, user={"userID": "shared"}, statsigMetadata=request_metadata)
    result = process_request(
        data, {**HEADERS, "authorization": "Bearer x"}, RECORD_TIMESTAMP, origin=ORIGIN
    )
    [dead_letter] = result.dead_letters
    letter = value_of(dead_letter)
    assert (dead_letter.reason, dead_letter.index) == (DeadLetterReason.INVALID_EVENT, 1)
    assert letter["reason"] == "invalid_event"
    assert letter["index"] == 1
    assert "`$.events[1].eventName`" in letter["error"]
    assert letter["receivedAt"] == RECORD_TIMESTAMP
    assert letter["headers"] == HEADERS, "only the source headers are copied"
    assert letter["origin"] == ORIGIN
    assert letter["event"] == bad
    assert letter["requestUser"] == {"userID": "shared"}
    assert letter["statsigMetadata"] == request_metadata


def test_request_dead_letter_names_its_origin_and_headers() -> None:
    result = process_request(b"{", HEADERS, RECORD_TIMESTAMP, origin=ORIGIN)
    letter = only_dead_letter(result)
    assert (letter["origin"], letter["headers"], letter["index"]) == (ORIGIN, HEADERS, None)


def test_original_larger_than_the_configured_limit_is_left_out_of_the_dead_letter() -> None:
    config = ProcessorConfig(dead_letter_max_original_bytes=64)
    big_event = event("", metadata={"padding": "x" * 100})
    event_letter = only_dead_letter(process_request(body(big_event), {}, 0, config))
    request_letter = only_dead_letter(process_request(b"[" + b" " * 100, {}, 0, config))
    for letter in (event_letter, request_letter):
        assert letter["omitted"] == "too_large"
        assert "event" not in letter
        assert "body" not in letter

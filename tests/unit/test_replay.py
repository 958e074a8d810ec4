"""Dead letters turn back into the requests they stand for."""

from __future__ import annotations

import json

from raw_messages import RECORD_TIMESTAMP, body, event, process

from processor import ProcessorConfig, process_request
from processor.replay import REPLAY_OF, is_replay, matches, replay_of

ORIGIN = {"topic": "statsig.events.raw", "partition": 2, "offset": 41}
CLIENT_TIME = {"statsig-client-time": str(RECORD_TIMESTAMP - 5_000), "content-encoding": "identity"}


def dead_letter(data: bytes, config: ProcessorConfig | None = None) -> dict:
    result = process_request(
        data, CLIENT_TIME, RECORD_TIMESTAMP, config or ProcessorConfig(), origin=ORIGIN
    )
    (letter,) = result.dead_letters
    return json.loads(letter.value)


def test_an_event_dead_letter_replays_as_a_request_of_that_event_with_the_request_user() -> None:
    bad = event(user={"userID": "u-1", "country": "usa"})
    letter = dead_letter(body(bad, user={"userID": "shared"}, statsigMetadata={"sdkType": "js"}))
    replay = replay_of(letter)
    assert json.loads(replay.body) == {
        "events": [bad],
        "user": {"userID": "shared"},
        "statsigMetadata": {"sdkType": "js"},
    }
    headers = dict(replay.headers)
    assert headers["statsig-received-at"] == str(RECORD_TIMESTAMP).encode()
    assert headers["statsig-client-time"] == CLIENT_TIME["statsig-client-time"].encode()
    assert "content-encoding" not in headers, "the replayed body is plain JSON"
    assert headers[REPLAY_OF] == b"statsig.events.raw/2/41"


def test_an_unparsable_body_replays_byte_for_byte() -> None:
    data = b'{"events": [{"eventName": "a"} oops'
    assert replay_of(dead_letter(data)).body == data


def test_a_body_that_is_not_utf8_replays_byte_for_byte() -> None:
    data = b'{"events": ["\xff"]}'
    assert replay_of(dead_letter(data)).body == data


def test_a_body_left_out_of_the_dead_letter_is_fetched_from_its_origin() -> None:
    data = body(event(), event())
    letter = dead_letter(data, ProcessorConfig(max_body_bytes=len(data) - 1))
    replay = replay_of(letter)
    assert replay.body is None
    assert tuple(replay.origin) == ("statsig.events.raw", 2, 41)


def test_a_replay_keeps_the_original_times_and_a_second_replay_repeats_its_time_uuids() -> None:
    missing_unit = event("purchase", user={"email": "a@b.example"}, time=RECORD_TIMESTAMP - 9_000)
    letter = dead_letter(body(missing_unit))
    first, second = replay_of(letter), replay_of(letter)
    assert first == second
    # Replayed to a worker whose rules now accept the event (here: a diagnostic needs no unit).
    fixed = json.loads(first.body)
    fixed["events"][0]["eventName"] = "statsig::diagnostics"
    again = json.dumps(fixed).encode()
    records = [process(again, dict(first.headers)).records[0] for _ in range(2)]
    assert records[0].time_uuid == records[1].time_uuid
    assert json.loads(records[0].value)["timestamp"] == RECORD_TIMESTAMP - 4_000


def test_dead_letters_are_selected_by_reason_and_received_at() -> None:
    letter = {"reason": "invalid_event", "receivedAt": 1_000}
    assert matches(letter, frozenset(), None, None)
    assert matches(letter, frozenset({"invalid_event", "invalid_json"}), 1_000, 1_001)
    assert not matches(letter, frozenset({"invalid_json"}), None, None)
    assert not matches(letter, frozenset(), 1_001, None)
    assert not matches(letter, frozenset(), None, 1_000)


def test_a_replay_is_known_by_its_header_in_any_letter_case_and_shape() -> None:
    assert is_replay([("Statsig-Replay-Of", b"t/0/1")])
    assert is_replay({REPLAY_OF: b"t/0/1"})
    assert not is_replay([("statsig-source", b"log_event")])
    assert not is_replay({})

"""Turn a dead letter back into a raw request, so it can be sent again after a fix.

A replayed request keeps the original received-at and client time, so its events get the same
corrected times; and a replay sent twice yields the same timeUUIDs, so downstream consumers
recognise the repeat.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any, NamedTuple

import msgspec

from processor.context import CONTENT_ENCODING, RECEIVED_AT, Headers

REPLAY_OF = "statsig-replay-of"
"""Header naming the raw message a replay came from: ``topic/partition/offset``."""


def is_replay(headers: Headers) -> bool:
    """Whether a raw message's headers mark it a replay (the dedup window never drops one)."""
    names = headers.keys() if isinstance(headers, Mapping) else (name for name, _ in headers)
    return any(name.lower() == REPLAY_OF for name in names)


class Origin(NamedTuple):
    topic: str
    partition: int
    offset: int


class Replay(NamedTuple):
    body: bytes | None
    """The request to send, or None when the dead letter left it out: fetch it from ``origin``."""
    headers: list[tuple[str, bytes]]
    origin: Origin | None


def _origin(letter: Mapping[str, Any]) -> Origin | None:
    origin = letter.get("origin")
    if not origin:
        return None
    return Origin(str(origin["topic"]), int(origin["partition"]), int(origin["offset"]))


def _request_body(letter: Mapping[str, Any]) -> bytes | None:
    if "event" in letter:
        request: dict[str, Any] = {"events": [letter["event"]]}
        if letter.get("requestUser") is not None:
            request["user"] = letter["requestUser"]
        if letter.get("statsigMetadata") is not None:
            request["statsigMetadata"] = letter["statsigMetadata"]
        return msgspec.json.encode(request)
    body = letter.get("body")
    if body is None:
        return None
    if letter.get("bodyEncoding") == "base64":
        return base64.b64decode(body)
    return str(body).encode()


def replay_of(letter: Mapping[str, Any]) -> Replay:
    """The request a dead letter stands for, with the headers it arrived with."""
    origin = _origin(letter)
    # A kept body is already decompressed, so its content-encoding no longer applies.
    headers = [
        (name, str(value).encode())
        for name, value in letter.get("headers", {}).items()
        if name not in (CONTENT_ENCODING, RECEIVED_AT)
    ]
    headers.append((RECEIVED_AT, str(letter["receivedAt"]).encode()))
    if origin is not None:
        headers.append((REPLAY_OF, f"{origin.topic}/{origin.partition}/{origin.offset}".encode()))
    return Replay(body=_request_body(letter), headers=headers, origin=origin)


def matches(
    letter: Mapping[str, Any],
    reasons: frozenset[str],
    since_ms: int | None,
    until_ms: int | None,
) -> bool:
    """True when the dead letter has one of ``reasons`` (any, if empty) and arrived in range."""
    if reasons and letter.get("reason") not in reasons:
        return False
    received = int(letter.get("receivedAt", 0))
    if since_ms is not None and received < since_ms:
        return False
    return until_ms is None or received < until_ms

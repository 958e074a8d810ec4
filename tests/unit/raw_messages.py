"""Raw messages for the unit tests: request bodies and headers in, decoded records and dead
letters out, so each test states only the facts it is about."""

from __future__ import annotations

import base64
import gzip
import json
import zlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from processor import (
    DEFAULT_CONFIG,
    DeadLetterRecord,
    OutputRecord,
    ProcessedRequest,
    ProcessorConfig,
    process_request,
)

DATA = Path(__file__).resolve().parent.parent / "data"

#: The Kafka record timestamp of every test message unless a test says otherwise (2023-11-14).
RECORD_TIMESTAMP = 1_700_000_000_000
USER: dict[str, Any] = {"userID": "user-1"}
#: An event time comfortably in the past of RECORD_TIMESTAMP.
EVENT_TIME = RECORD_TIMESTAMP - 60_000


class _Absent:
    def __repr__(self) -> str:
        return "ABSENT"


#: Pass as a field value to leave the field out of an event or request.
ABSENT: Any = _Absent()


def _present(fields: Mapping[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in fields.items() if value is not ABSENT}


def event(name: str = "page_view", **fields: Any) -> dict[str, Any]:
    """An event with a user and a time; ``field=ABSENT`` leaves a default out."""
    return _present({"eventName": name, "user": USER, "time": EVENT_TIME, **fields})


def json_bytes(value: Any) -> bytes:
    return json.dumps(value).encode()


def body(*events: Any, **request_fields: Any) -> bytes:
    """A ``log_event`` body: ``{"events": [...]}`` plus e.g. ``user=`` or ``statsigMetadata=``."""
    return json_bytes({"events": list(events), **_present(request_fields)})


def gzipped(data: bytes) -> bytes:
    return gzip.compress(data)


def zlib_deflated(data: bytes) -> bytes:
    return zlib.compress(data)


def raw_deflated(data: bytes) -> bytes:
    deflater = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return deflater.compress(data) + deflater.flush()


def process(
    data: bytes,
    headers: Mapping[str, str] | None = None,
    *,
    record_timestamp: int = RECORD_TIMESTAMP,
    config: ProcessorConfig = DEFAULT_CONFIG,
) -> ProcessedRequest:
    return process_request(data, headers or {}, record_timestamp, config)


def value_of(message: OutputRecord | DeadLetterRecord) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(message.value)
    return decoded


def only_record(result: ProcessedRequest) -> OutputRecord:
    assert result.dead_letters == [], [value_of(d) for d in result.dead_letters]
    assert len(result.records) == 1
    return result.records[0]


def only_dead_letter(result: ProcessedRequest) -> dict[str, Any]:
    assert result.records == []
    assert len(result.dead_letters) == 1
    return value_of(result.dead_letters[0])


def kept_body(letter: dict[str, Any]) -> bytes:
    """The original body a request's dead letter carries for replay."""
    if letter["bodyEncoding"] == "base64":
        return base64.b64decode(letter["body"])
    assert letter["bodyEncoding"] == "utf-8"
    encoded: bytes = letter["body"].encode()
    return encoded


def accepted(
    *events: Any, headers: Mapping[str, str] | None = None, **request: Any
) -> dict[str, Any]:
    """The record value of a request whose single event must be accepted."""
    return value_of(only_record(process(body(*events, **request), headers)))


def rejected(
    *events: Any, headers: Mapping[str, str] | None = None, **request: Any
) -> dict[str, Any]:
    """The dead letter of a request whose single event must be rejected."""
    return only_dead_letter(process(body(*events, **request), headers))


def seed_file(name: str) -> bytes:
    return (DATA / name).read_bytes()

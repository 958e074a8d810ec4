"""DESIGN §2 and §4: reading the raw message (content-encoding, JSON, request shape) and the
dead letter of a request that cannot be read."""

from __future__ import annotations

import tracemalloc
import zlib
from collections.abc import Callable
from typing import Any

import pytest
from raw_messages import (
    body,
    event,
    gzipped,
    kept_body,
    only_dead_letter,
    only_record,
    process,
    raw_deflated,
    value_of,
    zlib_deflated,
)

from processor import ProcessorConfig

REQUEST = body(event("page_view"))


def request_dead_letter(
    data: bytes, headers: dict[str, str] | None = None, config: ProcessorConfig | None = None
) -> dict[str, Any]:
    """The single dead letter of a request rejected as a whole."""
    result = process(data, headers, config=config) if config else process(data, headers)
    assert result.event_count == 0
    letter = only_dead_letter(result)
    assert letter["index"] is None
    return letter


@pytest.mark.parametrize(
    ("encoding", "compress"),
    [
        ("gzip", gzipped),
        ("deflate", zlib_deflated),
        ("deflate", raw_deflated),
        ("GZIP", gzipped),
        ("identity", lambda data: data),
    ],
    ids=["gzip", "deflate-zlib", "deflate-raw", "gzip-upper-case", "identity"],
)
def test_compressed_body_is_inflated_as_content_encoding_says(
    encoding: str, compress: Callable[[bytes], bytes]
) -> None:
    record = only_record(process(compress(REQUEST), {"content-encoding": encoding}))
    assert value_of(record)["eventName"] == "page_view"


def test_bare_json_array_of_events_is_a_request() -> None:
    result = process(b'[{"eventName": "a", "user": {"userID": "u"}}, {"eventName": "b"}]')
    assert result.event_count == 2
    assert [value_of(r)["eventName"] for r in result.records] == ["a"]
    assert [d.reason for d in result.dead_letters] == ["missing_user"]


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (REQUEST, "gzip"),
        (gzipped(REQUEST)[:-9], "gzip"),
        (gzipped(REQUEST) + b"junk", "gzip"),
        (b"\x78\x9c not deflate", "deflate"),
        (REQUEST, "br"),
    ],
    ids=["plain-as-gzip", "truncated-gzip", "trailing-bytes", "corrupt-deflate", "unsupported"],
)
def test_body_that_does_not_decode_as_its_content_encoding_is_invalid_encoding(
    data: bytes, encoding: str
) -> None:
    letter = request_dead_letter(data, {"content-encoding": encoding})
    assert letter["reason"] == "invalid_encoding"
    assert letter["headers"]["content-encoding"] == encoding
    # Bytes that cannot be decoded cannot be checked for private attributes: left out, and
    # the origin coordinates lead to the untouched original on the raw topic.
    assert letter["omitted"] == "undecodable"
    assert "body" not in letter


def test_plain_body_over_the_cap_is_payload_too_large() -> None:
    letter = request_dead_letter(REQUEST, config=ProcessorConfig(max_body_bytes=len(REQUEST) - 1))
    assert letter["reason"] == "payload_too_large"
    assert "body" not in letter


def test_body_of_exactly_the_cap_is_accepted() -> None:
    config = ProcessorConfig(max_body_bytes=len(REQUEST))
    only_record(process(gzipped(REQUEST), {"content-encoding": "gzip"}, config=config))


def test_gzip_bomb_is_refused_without_inflating_beyond_the_cap() -> None:
    cap = 256 * 1024
    deflater = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(1 << 20)
    bomb = b"".join(deflater.compress(zeros) for _ in range(32)) + deflater.flush()
    assert len(bomb) < cap // 8  # 32 MiB behind a few dozen KiB

    tracemalloc.start()
    try:
        letter = request_dead_letter(
            bomb, {"content-encoding": "gzip"}, ProcessorConfig(max_body_bytes=cap)
        )
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert letter["reason"] == "payload_too_large"
    assert peak < 4 * cap, f"peak {peak} bytes: the bomb was inflated past the cap"


@pytest.mark.parametrize(
    "data",
    [b"", b"not json", b'{"events": [', b'{"events": []}}', b"{'events': []}"],
    ids=["empty", "text", "unterminated", "trailing", "single-quotes"],
)
def test_body_that_is_not_json_is_invalid_json(data: bytes) -> None:
    letter = request_dead_letter(data)
    assert letter["reason"] == "invalid_json"
    assert kept_body(letter) == data


def test_body_that_is_not_utf8_is_invalid_json_kept_as_base64() -> None:
    data = b"\xff\xfe{\x00"
    letter = request_dead_letter(data)
    assert letter["reason"] == "invalid_json"
    assert letter["bodyEncoding"] == "base64"
    assert kept_body(letter) == data


@pytest.mark.parametrize(
    "data",
    [
        b'{"events": [{"eventName": "caf\xe9", "user": {"userID": "u"}}]}',
        b'{"events": [{"eventName": "a"}], "user": {"userID": "\xc3"}}',
        b'{"events": [{"eventName": "a", "user": {"userID": "u"}}], "statsigMetadata": "\xff"}',
    ],
    ids=["in-an-event", "in-the-request-user", "in-the-request-metadata"],
)
def test_non_utf8_bytes_anywhere_in_the_body_make_it_invalid_json(data: bytes) -> None:
    letter = request_dead_letter(data)
    assert letter["reason"] == "invalid_json"
    assert kept_body(letter) == data


@pytest.mark.parametrize(
    "data",
    [
        b'{"events": {"eventName": "a"}}',
        b'{"events": "page_view"}',
        b'{"events": null}',
        b'{"user": {"userID": "u"}}',
        b'"page_view"',
        b"42",
        b"null",
    ],
    ids=["events-object", "events-string", "events-null", "no-events", "string", "number", "null"],
)
def test_json_that_is_not_an_ingestion_request_is_invalid_request(data: bytes) -> None:
    letter = request_dead_letter(data)
    assert letter["reason"] == "invalid_request"
    assert kept_body(letter) == data


@pytest.mark.parametrize("data", [b'{"events": []}', b"[]"], ids=["object", "bare-array"])
def test_request_without_events_is_invalid_request(data: bytes) -> None:
    letter = request_dead_letter(data)
    assert letter["reason"] == "invalid_request"
    assert "$.events" in letter["error"]

"""The checks the Events API makes before a body goes to the raw topic: the key, the client
time, the encoding, and a body the worker can read as a request at all."""

from __future__ import annotations

import gzip
import json
import zlib
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import yaml
from multidict import CIMultiDict

from agents.web.auth import ApiKey, ApiKeys
from agents.web.ingress import (
    OPENAPI_PATH,
    EventWebhook,
    LogEvent,
    OpenApiDocument,
    Register,
    RequestRejected,
    authenticate,
    check_ingestion_body,
    client_time,
    content_encoding,
    raw_headers,
)
from processor import process_request

KEYS = ApiKeys({"backend": "secret-backend", "web": "client-web"})
EVENT = {"eventName": "purchase", "user": {"userID": "u-1"}, "time": 1_700_000_000_000}


@contextmanager
def rejected(status: int, message: str) -> Iterator[None]:
    with pytest.raises(RequestRejected, match=message) as caught:
        yield
    assert caught.value.status == status


def test_the_key_comes_from_the_header_in_any_letter_case_or_the_query() -> None:
    headers = CIMultiDict({"STATSIG-API-KEY": "secret-backend"})
    assert authenticate(KEYS, headers, {}) == ApiKey("backend", server_secret=True)
    assert authenticate(KEYS, CIMultiDict(), {"k": "client-web"}).key_id == "web"
    # The header wins over the query.
    both = CIMultiDict({"statsig-api-key": "secret-backend"})
    assert authenticate(KEYS, both, {"k": "client-web"}).key_id == "backend"
    with rejected(401, "missing API key"):
        authenticate(KEYS, CIMultiDict(), {})
    with rejected(401, "unknown API key"):
        authenticate(KEYS, CIMultiDict({"statsig-api-key": "secret-other"}), {})


@pytest.mark.parametrize(
    ("sent", "millis"),
    [
        (None, None),
        ("1700000000000", 1_700_000_000_000),
        (" 1700000000000 ", 1_700_000_000_000),
        ("1700000000000.872", 1_700_000_000_000),  # Ruby's and .NET's SDKs send fractions
        ("0", 0),
    ],
)
def test_client_time_is_whole_milliseconds_or_absent(sent: str | None, millis: int | None) -> None:
    assert client_time(sent, "STATSIG-CLIENT-TIME") == millis


@pytest.mark.parametrize(
    "sent",
    [
        "",
        "soon",
        "-5",
        "1e12",
        "0x10",
        "\uff11\uff12\uff13",
        "12 34",
        "1" * 19,
        "1700000000000.5.1",
    ],
)
def test_a_client_time_that_is_not_a_number_is_refused(sent: str) -> None:
    with rejected(400, "STATSIG-CLIENT-TIME must be an integer"):
        client_time(sent, "STATSIG-CLIENT-TIME")


def test_encoding_is_the_header_else_the_js_client_gzip_flag() -> None:
    assert content_encoding(None, None) == "identity"
    assert content_encoding("", "1") == "gzip"
    assert content_encoding(" GZIP ", None) == "gzip"
    assert content_encoding("deflate", "1") == "deflate"
    assert content_encoding(None, "0") == "identity"
    for unsupported in ("br", "zstd", "gzip, br"):
        with rejected(415, "unsupported content-encoding"):
            content_encoding(unsupported, None)


def test_readable_bodies_are_counted_in_every_encoding() -> None:
    body = json.dumps({"events": [EVENT, EVENT, {"not": "an event"}]}).encode()
    raw_deflate = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    raw = raw_deflate.compress(body) + raw_deflate.flush()
    for encoded, encoding in [
        (body, "identity"),
        (gzip.compress(body), "gzip"),
        (zlib.compress(body), "deflate"),
        (raw, "deflate"),
    ]:
        assert check_ingestion_body(encoded, encoding, 1 << 20) == (body, 3)


#: The Events API wants the object form; a bare array of events (seed 003's batch shape) is for
#: producers that write to the raw topic directly.
BARE_ARRAY = (json.dumps([EVENT]).encode(), 400, "not an ingestion request")
UNREADABLE = [
    (b"", 400, "no body"),
    (b"{not json", 400, "body is not JSON"),
    (b'{"events": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}", 400, "nested too deeply"),
    (json.dumps({"user": {"userID": "u"}}).encode(), 400, "missing required field `events`"),
    (json.dumps({"events": EVENT}).encode(), 400, r"at `\$.events`"),
    (json.dumps({"events": [EVENT], "statsigMetadata": 3}).encode(), 400, "statsigMetadata"),
    (json.dumps({"events": []}).encode(), 400, "`events` is empty"),
]


@pytest.mark.parametrize(("body", "status", "message"), [*UNREADABLE, BARE_ARRAY])
def test_an_unreadable_body_is_refused_with_the_reason(
    body: bytes, status: int, message: str
) -> None:
    with rejected(status, message):
        check_ingestion_body(body, "identity", 1 << 20)


@pytest.mark.parametrize(("body", "status", "message"), UNREADABLE)
def test_what_is_refused_is_what_the_worker_would_reject_whole(
    body: bytes, status: int, message: str
) -> None:
    """A body refused over HTTP is one the worker could only dead-letter as a whole request
    (so refusing it loses nothing), because both read it with the same code."""
    result = process_request(body, {}, 1_700_000_000_000)
    assert result.records == []
    assert [letter.index for letter in result.dead_letters] == [None]


def test_a_readable_body_is_read_event_by_event_by_the_worker() -> None:
    body = json.dumps({"events": [EVENT, {"eventName": ""}, 42]}).encode()
    assert check_ingestion_body(body, "identity", 1 << 20).events == 3
    result = process_request(body, {}, 1_700_000_000_000)
    assert len(result.records) == 1
    assert sorted(letter.index for letter in result.dead_letters) == [1, 2]


def test_compressed_bodies_that_cannot_be_inflated_are_refused() -> None:
    with rejected(400, "not valid gzip"):
        check_ingestion_body(b"\x1f\x8b\x08 not really", "gzip", 1 << 20)
    with rejected(400, "not valid deflate"):
        check_ingestion_body(b"plain text", "deflate", 1 << 20)
    with rejected(400, "not valid gzip"):
        check_ingestion_body(gzip.compress(b'{"events": [1]}')[:-4], "gzip", 1 << 20)


def test_a_compression_bomb_is_refused_at_the_cap() -> None:
    bomb = gzip.compress(b" " * (64 << 20))  # 64 MiB of spaces in about 64 KiB
    assert len(bomb) < 100_000
    with rejected(413, "inflates past the limit of 1048576"):
        check_ingestion_body(bomb, "gzip", 1 << 20)
    with rejected(413, "exceeds the limit of 10"):
        check_ingestion_body(b'{"events": [1]}', "identity", 10)


def test_raw_headers_carry_the_transport_facts_and_never_the_key() -> None:
    headers = raw_headers(
        received_at=1_700_000_060_000,
        client_time_ms=1_700_000_000_000,
        encoding="gzip",
        source="rgstr",
        sdk_type="javascript-client",
        sdk_version="3.12.0",
        key_id="web",
    )
    assert dict(headers) == {
        "statsig-received-at": b"1700000060000",
        "statsig-client-time": b"1700000000000",
        "content-encoding": b"gzip",
        "statsig-source": b"rgstr",
        "statsig-sdk-type": b"javascript-client",
        "statsig-sdk-version": b"3.12.0",
        "statsig-key-id": b"web",
    }
    bare = raw_headers(
        received_at=1,
        client_time_ms=None,
        encoding="identity",
        source="log_event",
        sdk_type=None,
        sdk_version="",
        key_id="backend",
    )
    assert [name for name, _ in bare] == [
        "statsig-received-at",
        "content-encoding",
        "statsig-source",
        "statsig-key-id",
    ]


def test_the_openapi_document_describes_the_served_paths_and_their_statuses() -> None:
    document = yaml.safe_load(OPENAPI_PATH.read_text())
    assert document["openapi"].startswith("3.1")
    views = [LogEvent, Register, EventWebhook, OpenApiDocument]
    assert set(document["paths"]) == {view.view_path for view in views}
    for view in (LogEvent, Register, EventWebhook):
        responses = document["paths"][view.view_path]["post"]["responses"]
        assert set(responses) == {"202", "400", "401", "413", "415", "503"}
    schemes = document["components"]["securitySchemes"]
    assert (schemes["statsigApiKey"]["in"], schemes["statsigApiKey"]["name"]) == (
        "header",
        "statsig-api-key",
    )
    assert (schemes["statsigApiKeyQuery"]["in"], schemes["statsigApiKeyQuery"]["name"]) == (
        "query",
        "k",
    )

"""What the transport says about a request: Kafka headers and the record timestamp (DESIGN §2)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import msgspec

HeaderValue = bytes | str | None
Headers = Mapping[str, HeaderValue] | Iterable[tuple[str, HeaderValue]]

CLIENT_TIME = "statsig-client-time"
RECEIVED_AT = "statsig-received-at"
CONTENT_ENCODING = "content-encoding"
SOURCE = "statsig-source"
SDK_TYPE = "statsig-sdk-type"
SDK_VERSION = "statsig-sdk-version"
KEY_ID = "statsig-key-id"

#: The headers copied into every dead letter, so a rejected request can be traced and replayed.
SOURCE_HEADERS = (SOURCE, SDK_TYPE, SDK_VERSION, KEY_ID, CLIENT_TIME, RECEIVED_AT, CONTENT_ENCODING)


class RequestContext(msgspec.Struct, frozen=True):
    """One request's transport facts, parsed once and shared by all of its events."""

    received_at: int
    client_time: int | None
    content_encoding: str
    source: str
    sdk_type: str | None
    sdk_version: str | None
    key_id: str
    headers: dict[str, str]


def _text(value: HeaderValue) -> str | None:
    if value is None:
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value


def _millis(value: str | None) -> int | None:
    """A decimal count of milliseconds, or None when absent or not a plain non-negative integer."""
    if value is None:
        return None
    value = value.strip()
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        return None
    return int(value)


def read_context(headers: Headers, record_timestamp_ms: int) -> RequestContext:
    """Parse the transport headers; header names are matched in any letter case."""
    items = headers.items() if isinstance(headers, Mapping) else headers
    text: dict[str, str] = {}
    for name, value in items:
        decoded = _text(value)
        if decoded is not None:
            text[name.lower()] = decoded
    received_at = _millis(text.get(RECEIVED_AT))
    return RequestContext(
        received_at=record_timestamp_ms if received_at is None else received_at,
        client_time=_millis(text.get(CLIENT_TIME)),
        content_encoding=text.get(CONTENT_ENCODING, "identity").strip().lower() or "identity",
        source=text.get(SOURCE) or "kafka",
        sdk_type=text.get(SDK_TYPE),
        sdk_version=text.get(SDK_VERSION),
        key_id=text.get(KEY_ID, ""),
        headers={name: text[name] for name in SOURCE_HEADERS if name in text},
    )

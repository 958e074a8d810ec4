"""Dead letters: why an event or request was rejected, and the original to fix and replay.

The original is kept without ``privateAttributes``; when that cannot be guaranteed (a body
that cannot be parsed but mentions them) it is left out, since the raw topic still has it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec

from processor.context import RequestContext
from processor.reasons import DeadLetterReason
from processor.records import DeadLetter, DeadLetterRecord, ProcessedRequest, encode_json
from processor.users import PRIVATE, without_private

_PRIVATE_BYTES = PRIVATE.encode()
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
_any_decoder = msgspec.json.Decoder()


def _may_hold_private(text: bytes) -> bool:
    """Whether JSON text may carry privateAttributes, its key written plainly or in \\u escapes."""
    if _PRIVATE_BYTES in text:
        return True
    return b"\\u" in text and _PRIVATE_BYTES in _JSON_ESCAPE.sub(_unescape_ascii, text)


def _unescape_ascii(match: re.Match[bytes]) -> bytes:
    code = int(match[1], 16)
    return bytes([code]) if code < 0x80 else b"?"


def body_fields(body: bytes, limit: int) -> dict[str, Any]:
    """The original body for a dead letter, unless too large or possibly holding private data."""
    if len(body) > limit:
        return {"omitted": "too_large"}
    if _may_hold_private(body):
        return {"omitted": "private_attributes"}
    try:
        return {"body": body.decode("utf-8"), "bodyEncoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "bodyEncoding": "base64"}


def original_event(raw: msgspec.Raw, limit: int) -> dict[str, Any]:
    """The original event for its dead letter, privateAttributes removed from its user."""
    if len(raw) > limit:
        return {"omitted": "too_large"}
    try:
        event = _any_decoder.decode(raw)
    except msgspec.DecodeError:
        # Valid JSON that Python cannot hold (a number beyond float range): pass it through.
        return (
            {"omitted": "private_attributes"} if _may_hold_private(bytes(raw)) else {"event": raw}
        )
    if isinstance(event, dict) and isinstance(event.get("user"), dict):
        event["user"] = without_private(event["user"])
    return {"event": event}


def dead_letter(
    context: RequestContext,
    origin: dict[str, Any] | None,
    reason: DeadLetterReason,
    error: str,
    index: int | None,
    original: dict[str, Any],
) -> DeadLetterRecord:
    letter = DeadLetter(
        reason=reason,
        error=error,
        index=index,
        receivedAt=context.received_at,
        headers=context.headers,
        origin=origin,
        **original,
    )
    return DeadLetterRecord(reason=reason, index=index, value=encode_json(letter))


def rejected_request(
    context: RequestContext,
    origin: dict[str, Any] | None,
    reason: DeadLetterReason,
    error: str,
    original: dict[str, Any],
) -> ProcessedRequest:
    """A request that cannot be read at all: one dead letter without an event index."""
    return ProcessedRequest(
        records=[],
        dead_letters=[dead_letter(context, origin, reason, error, None, original)],
        event_count=0,
    )

"""Dead letters: why an event or request was rejected, and the original to fix and replay.

The original is kept without ``privateAttributes`` and with its users' ``ip`` as
``IP_ANONYMIZE`` says (see ``processor.users.outgoing_user``); when that cannot be guaranteed
(a body that cannot be parsed but mentions them) it is left out, since the raw topic still
has it.
"""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec

from processor.config import ProcessorConfig
from processor.context import RequestContext
from processor.ip_addresses import IpAnonymization
from processor.reasons import DeadLetterReason
from processor.records import DeadLetter, DeadLetterRecord, ProcessedRequest, encode_json
from processor.users import IP, PRIVATE, outgoing_user

_PRIVATE_BYTES = PRIVATE.encode()
_IP_KEY_BYTES = f'"{IP}"'.encode()
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
_any_decoder = msgspec.json.Decoder()


def _may_hold(text: bytes, needle: bytes) -> bool:
    """Whether JSON text may carry ``needle``, written plainly or in \\u escapes."""
    if needle in text:
        return True
    return b"\\u" in text and needle in _JSON_ESCAPE.sub(_unescape_ascii, text)


def _withheld(text: bytes, config: ProcessorConfig) -> str | None:
    """Why JSON text that cannot be rewritten must be left out of a dead letter, or None."""
    if _may_hold(text, _PRIVATE_BYTES):
        return "private_attributes"
    if config.ip_anonymization is not IpAnonymization.NONE and _may_hold(text, _IP_KEY_BYTES):
        return "ip_address"
    return None


def _unescape_ascii(match: re.Match[bytes]) -> bytes:
    code = int(match[1], 16)
    return bytes([code]) if code < 0x80 else b"?"


def body_fields(body: bytes, config: ProcessorConfig) -> dict[str, Any]:
    """The original body for a dead letter, unless too large or possibly holding private data."""
    if len(body) > config.dead_letter_max_original_bytes:
        return {"omitted": "too_large"}
    withheld = _withheld(body, config)
    if withheld is not None:
        return {"omitted": withheld}
    try:
        return {"body": body.decode("utf-8"), "bodyEncoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "bodyEncoding": "base64"}


def original_event(raw: msgspec.Raw, config: ProcessorConfig) -> dict[str, Any]:
    """The original event for its dead letter, its user written as records write users."""
    if len(raw) > config.dead_letter_max_original_bytes:
        return {"omitted": "too_large"}
    try:
        event = _any_decoder.decode(raw)
    except msgspec.DecodeError:
        # Valid JSON that Python cannot hold (a number beyond float range): pass it through.
        withheld = _withheld(bytes(raw), config)
        return {"event": raw} if withheld is None else {"omitted": withheld}
    if isinstance(event, dict) and isinstance(event.get("user"), dict):
        event["user"] = outgoing_user(event["user"], config.ip_anonymization)
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
    identity: bytes,
) -> ProcessedRequest:
    """A request that cannot be read at all: one dead letter without an event index, under the
    request's identity (so that the dedup window knows its repeats, and only those)."""
    return ProcessedRequest(
        records=[],
        dead_letters=[dead_letter(context, origin, reason, error, None, original)],
        event_count=0,
        identity=identity,
    )

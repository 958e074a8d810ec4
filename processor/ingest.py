"""The entry point: one raw message (one ingestion request) in, records and dead letters out.

A request is first decoded in one typed call. Only when that fails, or one of its events would
be a dead letter, is it read again event by event, each event decoded and judged alone: the
dead letters (reasons, errors, originals) are then exactly those of reading every request so.
Both ways build records with the same ``RequestEvents.record``.
"""

from __future__ import annotations

from typing import Any

import msgspec

from processor.config import DEFAULT_CONFIG, ProcessorConfig
from processor.context import Headers, RequestContext, read_context
from processor.dead_letters import body_fields, dead_letter, original_event, rejected_request
from processor.decompress import BodyEncodingError, BodyTooLargeError, decompress_body
from processor.events import RequestEvents
from processor.reasons import DeadLetterReason
from processor.records import DeadLetterRecord, OutputRecord, ProcessedRequest
from processor.rejected import Rejected, at_path
from processor.schemas import NO_USER, Event, RequestEnvelope, TypedEvent, TypedRequest
from processor.timeuuid import request_identity
from processor.users import RequestUser, ResolvedUser, UserCache, resolve_user

__all__ = [
    "DEFAULT_CONFIG",
    "ProcessorConfig",
    "process_request",
    "process_request_in_one_call",
    "process_request_per_event",
]

_typed_decoder = msgspec.json.Decoder(TypedRequest | list[TypedEvent])
_envelope_decoder = msgspec.json.Decoder(RequestEnvelope | list[msgspec.Raw])
_event_decoder = msgspec.json.Decoder(Event)


def _utf8_error(payload: bytes) -> str | None:
    """Why the body is not UTF-8, or None. msgspec leaves the bytes of ``Raw`` parts unchecked,
    so a bad byte inside an event would otherwise surface as a UnicodeDecodeError later."""
    if payload.isascii():
        return None
    try:
        payload.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"body is not UTF-8: {exc}"
    return None


def _read_payload(
    body: bytes, context: RequestContext, config: ProcessorConfig, origin: dict[str, Any] | None
) -> bytes | ProcessedRequest:
    """The body as UTF-8 JSON text, or the dead letter of a body that cannot be (known by the
    body as sent: that is all there is to know it by)."""
    try:
        payload = decompress_body(body, context.content_encoding, config.max_body_bytes)
    except BodyTooLargeError as exc:
        return rejected_request(
            context,
            origin,
            DeadLetterReason.PAYLOAD_TOO_LARGE,
            str(exc),
            {"omitted": "too_large"},
            request_identity(context.key_id, body),
        )
    except BodyEncodingError as exc:
        # Compressed bytes cannot be checked for private attributes: the raw topic keeps them.
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_ENCODING,
            str(exc),
            {"omitted": "undecodable"},
            request_identity(context.key_id, body),
        )
    utf8_error = _utf8_error(payload)
    if utf8_error is not None:
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_JSON,
            utf8_error,
            body_fields(payload, config),
            request_identity(context.key_id, body),
        )
    return payload


def _all_accepted(
    payload: bytes, context: RequestContext, config: ProcessorConfig, identity: bytes
) -> ProcessedRequest | None:
    """The records of a request decoded in one call; None when it does not decode so, or when
    one of its events would be a dead letter."""
    try:
        typed = _typed_decoder.decode(payload)
    except msgspec.DecodeError:
        return None
    if isinstance(typed, list):
        events, raw_user, request_metadata = typed, None, None
    else:
        events, raw_user, request_metadata = typed.events, typed.user, typed.statsigMetadata
    if not events:
        return None
    request_user = RequestUser(raw_user, config)
    request = RequestEvents(context, config, identity, request_user, request_metadata)
    resolve = UserCache(config).resolve
    users: list[ResolvedUser | None] = []
    # Consecutive events often share a user (always, when they rely on the request's): the
    # user is looked up only when it differs from the previous event's.
    last_raw, user = NO_USER, None
    try:
        for event in events:
            if event.user != last_raw:
                last_raw, user = event.user, resolve(event.user)
            users.append(user)
        records = request.records(events, users)
    except (Rejected, msgspec.DecodeError):
        return None
    return ProcessedRequest(
        records=records, dead_letters=[], event_count=len(events), identity=identity
    )


def _event_user(event: Event, index: int, config: ProcessorConfig) -> ResolvedUser | None:
    if event.user is None:
        return None
    try:
        return resolve_user(event.user, config)
    except msgspec.ValidationError as exc:
        raise Rejected(
            DeadLetterReason.INVALID_EVENT, at_path(exc, f"$.events[{index}].user")
        ) from None


def _per_event(
    payload: bytes,
    context: RequestContext,
    config: ProcessorConfig,
    origin: dict[str, Any] | None,
    identity: bytes,
) -> ProcessedRequest:
    """Read the request event by event: each event a record or a dead letter of its own."""
    try:
        envelope = _envelope_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_REQUEST,
            f"not an ingestion request: {exc}",
            body_fields(payload, config),
            identity,
        )
    except msgspec.DecodeError as exc:
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_JSON,
            str(exc),
            body_fields(payload, config),
            identity,
        )

    if isinstance(envelope, list):
        raw_events, raw_user, request_metadata = envelope, None, None
    else:
        raw_events, raw_user, request_metadata = (
            envelope.events,
            envelope.user,
            envelope.statsigMetadata,
        )
    if not raw_events:
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_REQUEST,
            "`events` is empty - at `$.events`",
            body_fields(payload, config),
            identity,
        )

    request_user = RequestUser(raw_user, config)
    request = RequestEvents(context, config, identity, request_user, request_metadata)
    records: list[OutputRecord] = []
    dead_letters: list[DeadLetterRecord] = []
    for index, raw in enumerate(raw_events):
        try:
            try:
                event = _event_decoder.decode(raw)
            except msgspec.ValidationError as exc:
                raise Rejected(
                    DeadLetterReason.INVALID_EVENT, at_path(exc, f"$.events[{index}]")
                ) from None
            records.append(request.record(index, event, _event_user(event, index, config)))
        except Rejected as rejected:
            original = original_event(raw, config)
            if request_user.fields is not None:
                original["requestUser"] = request_user.fields
            if request_metadata:
                original["statsigMetadata"] = request_metadata
            dead_letters.append(
                dead_letter(context, origin, rejected.reason, rejected.error, index, original)
            )
    return ProcessedRequest(
        records=records,
        dead_letters=dead_letters,
        event_count=len(raw_events),
        identity=identity,
    )


def process_request(
    body: bytes,
    headers: Headers,
    record_timestamp_ms: int,
    config: ProcessorConfig = DEFAULT_CONFIG,
    origin: dict[str, Any] | None = None,
) -> ProcessedRequest:
    """Turn one raw message into per-type records and dead letters; never raises on bad input.

    ``origin`` (topic, partition, offset of the raw message) is copied into dead letters so a
    consumer can find the untouched original.
    """
    context = read_context(headers, record_timestamp_ms)
    payload = _read_payload(body, context, config, origin)
    if isinstance(payload, ProcessedRequest):
        return payload
    identity = request_identity(context.key_id, payload)
    try:
        accepted = _all_accepted(payload, context, config, identity)
        if accepted is not None:
            return accepted
        return _per_event(payload, context, config, origin, identity)
    except RecursionError:
        # msgspec refuses nesting deeper than the interpreter's recursion limit wherever it
        # meets it; no real event nests that deep, so the request as a whole is unreadable.
        return rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_JSON,
            "JSON nested too deeply to be read",
            body_fields(payload, config),
            identity,
        )


def process_request_per_event(
    body: bytes,
    headers: Headers,
    record_timestamp_ms: int,
    config: ProcessorConfig = DEFAULT_CONFIG,
    origin: dict[str, Any] | None = None,
) -> ProcessedRequest:
    """``process_request`` reading the request event by event, as it does any request with a
    bad event: the reference that its one-call decode must agree with (see the unit tests)."""
    context = read_context(headers, record_timestamp_ms)
    payload = _read_payload(body, context, config, origin)
    if isinstance(payload, ProcessedRequest):
        return payload
    return _per_event(payload, context, config, origin, request_identity(context.key_id, payload))


def process_request_in_one_call(
    body: bytes,
    headers: Headers,
    record_timestamp_ms: int,
    config: ProcessorConfig = DEFAULT_CONFIG,
) -> ProcessedRequest | None:
    """``process_request`` for a request it decodes in one call; None for one it reads event by
    event (one that does not decode so, or that has an event to reject)."""
    context = read_context(headers, record_timestamp_ms)
    payload = _read_payload(body, context, config, None)
    if isinstance(payload, ProcessedRequest):
        return None
    return _all_accepted(payload, context, config, request_identity(context.key_id, payload))

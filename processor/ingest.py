"""The entry point: one raw message (one ingestion request) in, records and dead letters out."""

from __future__ import annotations

import base64
import re
from typing import Any

import msgspec

from processor.classify import EXPOSURE_KINDS, EventType, classify
from processor.context import Headers, RequestContext, read_context
from processor.decompress import BodyEncodingError, BodyTooLargeError, decompress_body
from processor.reasons import DeadLetterReason
from processor.records import (
    DeadLetter,
    DeadLetterRecord,
    EventRecord,
    ExposureKey,
    OutputRecord,
    ProcessedRequest,
    encode_json,
)
from processor.schemas import Event, RequestEnvelope, User
from processor.skew import correct_skew, request_skew
from processor.timeuuid import parse_uuid, request_digest, time_uuid


class ProcessorConfig(msgspec.Struct, frozen=True):
    """Limits and tolerances of the event core; the worker fills it from its settings."""

    max_body_bytes: int = 8 * 1024 * 1024
    """Largest request body accepted after decompression."""
    future_tolerance_ms: int = 1_000
    """How far past received-at a corrected time may lie before it is clamped."""
    max_clock_skew_ms: int = 365 * 24 * 3_600_000
    """A client time further than this from received-at is not sane: no correction."""
    dead_letter_max_original_bytes: int = 256 * 1024
    """Originals larger than this are left out of dead letters (the raw topic still has them)."""


DEFAULT_CONFIG = ProcessorConfig()

_envelope_decoder = msgspec.json.Decoder(RequestEnvelope | list[msgspec.Raw])
_event_decoder = msgspec.json.Decoder(Event)
_optional_object_decoder = msgspec.json.Decoder(dict[str, Any] | None)
_any_decoder = msgspec.json.Decoder()
_PRIVATE = "privateAttributes"
_PRIVATE_BYTES = _PRIVATE.encode()
_JSON_ESCAPE = re.compile(rb"\\u([0-9a-fA-F]{4})")
_UNIT_OPTIONAL = frozenset({EventType.DIAGNOSTIC, EventType.CONFIG_CHANGE})


class _Rejected(Exception):
    """An event that becomes a dead letter; carries the reason and the field path."""

    def __init__(self, reason: DeadLetterReason, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


def _at(error: msgspec.ValidationError, prefix: str) -> str:
    """Re-root a msgspec error path (``$.user.country``) under the request (``$.events[3]...``)."""
    message = str(error)
    if "`$" in message:
        return message.replace("`$", f"`{prefix}", 1)
    return f"{message} - at `{prefix}`"


def _without_private(user: dict[str, Any]) -> dict[str, Any]:
    if _PRIVATE in user:
        return {name: value for name, value in user.items() if name != _PRIVATE}
    return user


def _numeric_value(value: str | float | None, prefix: str) -> float | None:
    """The value as a float for the value metrics; JSON allows integers no float can hold."""
    if value is None or type(value) is str:
        return None
    try:
        return float(value)
    except OverflowError:
        raise _Rejected(
            DeadLetterReason.INVALID_EVENT, f"Number out of range - at `{prefix}.value`"
        ) from None


def _json_text(value: Any) -> str:
    return value if type(value) is str else encode_json(value).decode()


class _RequestUser:
    """The top-level user, decoded and validated once for all events that rely on it."""

    __slots__ = ("error", "output", "user")

    def __init__(self, raw: msgspec.Raw | None) -> None:
        self.user: User | None = None
        self.output: dict[str, Any] | None = None
        self.error: str | None = None
        if raw is None:
            return
        try:
            fields = _optional_object_decoder.decode(raw)
            if fields is None:
                return
            self.user = msgspec.convert(fields, User)
        except msgspec.ValidationError as exc:
            self.error = _at(exc, "$.user")
            return
        self.output = _without_private(fields)


def _unit_id(user: User, metadata: dict[str, Any]) -> tuple[str, str] | None:
    """(id type, id value): userID, else a customID (stableID first), else the SDK's stableID."""
    if user.userID:
        return "userID", user.userID
    ids = user.customIDs
    if ids:
        stable = ids.get("stableID")
        if stable:
            return "stableID", stable
        for id_type, value in ids.items():
            if value:
                return id_type, value
    stable = metadata.get("stableID")
    if isinstance(stable, str) and stable:
        return "stableID", stable
    return None


def _exposure_key(event_name: str, metadata: dict[str, str]) -> ExposureKey:
    kind = EXPOSURE_KINDS[event_name]
    name = metadata.get("gate") or metadata.get("config") or ""
    group = (
        metadata.get("gateValue")
        or metadata.get("experimentGroupName")
        or metadata.get("allocatedExperiment")
        or ""
    )
    return kind, name, metadata.get("ruleID", ""), group


class _Request:
    """Per-request state shared by its events: context, user, metadata base, UUID digest."""

    __slots__ = ("base_metadata", "config", "context", "digest", "skew", "user")

    def __init__(
        self,
        context: RequestContext,
        config: ProcessorConfig,
        body: bytes,
        user: _RequestUser,
        metadata: dict[str, Any] | None,
    ) -> None:
        self.context = context
        self.config = config
        self.user = user
        self.skew = request_skew(context.received_at, context.client_time, config.max_clock_skew_ms)
        self.digest = request_digest(context.key_id, body)
        base = dict(metadata) if metadata else {}
        if context.sdk_type and "sdkType" not in base:
            base["sdkType"] = context.sdk_type
        if context.sdk_version and "sdkVersion" not in base:
            base["sdkVersion"] = context.sdk_version
        self.base_metadata = base

    def default_time(self) -> int:
        """When an event has no time, it was created when the request was sent."""
        context = self.context
        if context.client_time is not None and (
            self.skew or context.client_time == context.received_at
        ):
            return context.client_time
        return context.received_at

    def record(self, index: int, event: Event) -> OutputRecord:
        prefix = f"$.events[{index}]"
        if event.user is not None:
            try:
                user = msgspec.convert(event.user, User)
            except msgspec.ValidationError as exc:
                raise _Rejected(
                    DeadLetterReason.INVALID_EVENT, _at(exc, f"{prefix}.user")
                ) from None
            user_output = _without_private(event.user)
        elif self.user.error is not None:
            raise _Rejected(DeadLetterReason.INVALID_EVENT, self.user.error)
        elif self.user.user is not None and self.user.output is not None:
            user, user_output = self.user.user, self.user.output
        else:
            user, user_output = User(), {}

        name = event.eventName
        event_type = classify(name)
        # Every event needs a user (seed 002); only the unit id is optional for some types.
        if event.user is None and self.user.user is None:
            raise _Rejected(
                DeadLetterReason.MISSING_USER,
                f"no user on the event or the request - at `{prefix}`",
            )
        statsig_metadata = (
            {**self.base_metadata, **event.statsigMetadata}
            if event.statsigMetadata
            else self.base_metadata
        )
        unit = _unit_id(user, statsig_metadata)
        if unit is None and event_type not in _UNIT_OPTIONAL:
            raise _Rejected(
                DeadLetterReason.MISSING_UNIT_ID,
                f"no userID, customIDs value or stableID - at `{prefix}.user`",
            )

        context = self.context
        raw_time = event.time if event.time is not None else event.timestamp
        client_time = (
            self.default_time()
            if raw_time is None
            else (raw_time if type(raw_time) is int else int(raw_time))
        )
        corrected = correct_skew(
            client_time, self.skew, context.received_at, self.config.future_tolerance_ms
        )
        supplied = event.timeUUID
        uuid = (
            supplied
            if supplied is not None and parse_uuid(supplied)
            else time_uuid(corrected.timestamp, self.digest, index)
        )
        metadata = (
            {key: _json_text(value) for key, value in event.metadata.items()}
            if event.metadata
            else {}
        )
        value = event.value
        numeric_value = _numeric_value(value, prefix)
        is_exposure = event_type is EventType.EXPOSURE
        record = EventRecord(
            eventName=name,
            user=user_output,
            userID=user.userID,
            timestamp=corrected.timestamp,
            value="" if value is None else _json_text(value),
            metadata=metadata,
            statsigMetadata=statsig_metadata,
            timeUUID=uuid,
            clientTimestamp=client_time,
            receivedAt=context.received_at,
            clockSkewMs=corrected.skew_ms,
            timestampClamped=corrected.clamped,
            unitID=unit[0] if is_exposure and unit else None,
            secondaryExposures=event.secondaryExposures if is_exposure else None,
        )
        return OutputRecord(
            type=event_type,
            key=unit[1].encode() if unit else None,
            value=encode_json(record),
            event_name=name,
            timestamp=corrected.timestamp,
            unit_id=unit[1] if unit else None,
            numeric_value=numeric_value,
            exposure=_exposure_key(name, metadata) if is_exposure else None,
            time_uuid=uuid,
        )


def _may_hold_private(text: bytes) -> bool:
    """Whether JSON text may carry privateAttributes, its key written plainly or in \\u escapes."""
    if _PRIVATE_BYTES in text:
        return True
    return b"\\u" in text and _PRIVATE_BYTES in _JSON_ESCAPE.sub(_unescape_ascii, text)


def _unescape_ascii(match: re.Match[bytes]) -> bytes:
    code = int(match[1], 16)
    return bytes([code]) if code < 0x80 else b"?"


def _body_fields(body: bytes, limit: int) -> dict[str, Any]:
    """The original body for a dead letter, unless too large or possibly holding private data."""
    if len(body) > limit:
        return {"omitted": "too_large"}
    if _may_hold_private(body):
        return {"omitted": "private_attributes"}
    try:
        return {"body": body.decode("utf-8"), "bodyEncoding": "utf-8"}
    except UnicodeDecodeError:
        return {"body": base64.b64encode(body).decode("ascii"), "bodyEncoding": "base64"}


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


def _original_event(raw: msgspec.Raw, limit: int) -> dict[str, Any]:
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
        event["user"] = _without_private(event["user"])
    return {"event": event}


def _dead_letter(
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


def _rejected_request(
    context: RequestContext,
    origin: dict[str, Any] | None,
    reason: DeadLetterReason,
    error: str,
    original: dict[str, Any],
) -> ProcessedRequest:
    return ProcessedRequest(
        records=[],
        dead_letters=[_dead_letter(context, origin, reason, error, None, original)],
        event_count=0,
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
    limit = config.dead_letter_max_original_bytes
    try:
        payload = decompress_body(body, context.content_encoding, config.max_body_bytes)
    except BodyTooLargeError as exc:
        return _rejected_request(
            context, origin, DeadLetterReason.PAYLOAD_TOO_LARGE, str(exc), {"omitted": "too_large"}
        )
    except BodyEncodingError as exc:
        # Compressed bytes cannot be checked for private attributes: the raw topic keeps them.
        return _rejected_request(
            context, origin, DeadLetterReason.INVALID_ENCODING, str(exc), {"omitted": "undecodable"}
        )
    utf8_error = _utf8_error(payload)
    if utf8_error is not None:
        return _rejected_request(
            context, origin, DeadLetterReason.INVALID_JSON, utf8_error, _body_fields(payload, limit)
        )
    try:
        envelope = _envelope_decoder.decode(payload)
    except msgspec.ValidationError as exc:
        return _rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_REQUEST,
            f"not an ingestion request: {exc}",
            _body_fields(payload, limit),
        )
    except msgspec.DecodeError as exc:
        return _rejected_request(
            context, origin, DeadLetterReason.INVALID_JSON, str(exc), _body_fields(payload, limit)
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
        return _rejected_request(
            context,
            origin,
            DeadLetterReason.INVALID_REQUEST,
            "`events` is empty - at `$.events`",
            _body_fields(payload, limit),
        )

    request_user = _RequestUser(raw_user)
    request = _Request(context, config, payload, request_user, request_metadata)
    records: list[OutputRecord] = []
    dead_letters: list[DeadLetterRecord] = []
    for index, raw in enumerate(raw_events):
        try:
            try:
                event = _event_decoder.decode(raw)
            except msgspec.ValidationError as exc:
                raise _Rejected(
                    DeadLetterReason.INVALID_EVENT, _at(exc, f"$.events[{index}]")
                ) from None
            records.append(request.record(index, event))
        except _Rejected as rejected:
            original = _original_event(raw, limit)
            if request_user.output is not None:
                original["requestUser"] = request_user.output
            if request_metadata:
                original["statsigMetadata"] = request_metadata
            dead_letters.append(
                _dead_letter(context, origin, rejected.reason, rejected.error, index, original)
            )
    return ProcessedRequest(records=records, dead_letters=dead_letters, event_count=len(raw_events))

"""What leaves the worker: per-type records (seed 003 + DESIGN §4) and dead letters."""

from __future__ import annotations

from typing import Any

import msgspec

from processor.classify import EventType
from processor.reasons import DeadLetterReason

#: Metric key of an exposure: (kind, gate/config/experiment/layer name, ruleID, group or value).
ExposureKey = tuple[str, str, str, str]


class EventRecord(msgspec.Struct, omit_defaults=True, gc=False):
    """A per-type topic message's JSON value: seed 003's integration record plus skew facts
    and the enrichment.

    ``gc=False`` here and on the other structs built per event: they hold decoded JSON, which
    cannot refer back to them, so they need no cycle tracking (measured: 2-5% of the core).
    """

    eventName: str
    user: msgspec.Raw
    """Encoded once per distinct user of a request (see ``processor.users``)."""
    userID: str | None
    timestamp: int
    value: str
    metadata: dict[str, str]
    statsigMetadata: dict[str, Any] | msgspec.Raw
    timeUUID: str
    clientTimestamp: int
    receivedAt: int
    clockSkewMs: int
    timestampClamped: bool
    unitID: str | None = None
    secondaryExposures: list[Any] | None = None
    enrichment: msgspec.Raw | None = None
    """Encoded once per distinct user of a request (see ``processor.enrichment``)."""


class DeadLetter(msgspec.Struct, omit_defaults=True):
    """The JSON value of a dead letter: why, where, and what to fix and replay."""

    reason: DeadLetterReason
    error: str
    index: int | None
    receivedAt: int
    headers: dict[str, str]
    origin: dict[str, Any] | None = None
    event: Any = msgspec.UNSET
    requestUser: dict[str, Any] | None = None
    statsigMetadata: dict[str, Any] | None = None
    body: str | None = None
    bodyEncoding: str | None = None
    omitted: str | None = None


class OutputRecord(msgspec.Struct, frozen=True, gc=False):
    """One accepted event, encoded for its topic, with the facts the metric tables aggregate."""

    type: EventType
    key: bytes | None
    value: bytes
    event_name: str
    timestamp: int
    unit_id: str | None
    numeric_value: float | None
    exposure: ExposureKey | None
    time_uuid: str
    event: EventRecord
    """The record as built, before ``value`` encoded it: what the Console lists is read from
    it instead of decoding ``value`` again."""


class DeadLetterRecord(msgspec.Struct, frozen=True):
    """One rejected event or request, encoded for the dead-letter topic."""

    reason: DeadLetterReason
    index: int | None
    value: bytes
    key: bytes | None = None


class ProcessedRequest(msgspec.Struct, frozen=True):
    """Everything one raw message became: accepted records and dead letters, in event order."""

    records: list[OutputRecord]
    dead_letters: list[DeadLetterRecord]
    event_count: int
    """How many events the request carried; 0 when the request itself could not be read."""
    identity: bytes
    """The request's identity (key id, decompressed body): what its retries and redeliveries
    share, and the dedup window recognises (DESIGN §3)."""


_encoder = msgspec.json.Encoder()
encode_json = _encoder.encode

"""One accepted event's record: user, classification, skew, timeUUID and encoding (DESIGN §3-4).

``RequestEvents`` holds what a request's events share (transport context, request user,
statsigMetadata base, UUID digest) and builds each event's record. Both ways of reading a
request (decoded in one call, or event by event) go through ``record``, so a record does not
depend on how its request was read.
"""

from __future__ import annotations

from typing import Any

import msgspec

from processor.classify import EXPOSURE_KINDS, EventType, classify
from processor.config import ProcessorConfig
from processor.context import RequestContext
from processor.reasons import DeadLetterReason
from processor.records import EventRecord, ExposureKey, OutputRecord, encode_json
from processor.rejected import Rejected
from processor.schemas import EventFields
from processor.skew import correct_skew, request_skew
from processor.timeuuid import parse_uuid, request_digest, time_uuid
from processor.users import RequestUser, ResolvedUser

_UNIT_OPTIONAL = frozenset({EventType.DIAGNOSTIC, EventType.CONFIG_CHANGE})


def _numeric_value(value: str | float | None, prefix: str) -> float | None:
    """The value as a float for the value metrics; JSON allows integers no float can hold."""
    if value is None or type(value) is str:
        return None
    try:
        return float(value)
    except OverflowError:
        raise Rejected(
            DeadLetterReason.INVALID_EVENT, f"Number out of range - at `{prefix}.value`"
        ) from None


def json_text(value: Any) -> str:
    return value if type(value) is str else encode_json(value).decode()


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


class RequestEvents:
    """Per-request state shared by its events: context, user, metadata base, UUID digest."""

    __slots__ = (
        "base_metadata",
        "base_stable_id",
        "config",
        "context",
        "digest",
        "encoded_base_metadata",
        "request_user",
        "skew",
    )

    def __init__(
        self,
        context: RequestContext,
        config: ProcessorConfig,
        body: bytes,
        request_user: RequestUser,
        metadata: dict[str, Any] | None,
    ) -> None:
        self.context = context
        self.config = config
        self.request_user = request_user
        self.skew = request_skew(context.received_at, context.client_time, config.max_clock_skew_ms)
        self.digest = request_digest(context.key_id, body)
        base = dict(metadata) if metadata else {}
        if context.sdk_type and "sdkType" not in base:
            base["sdkType"] = context.sdk_type
        if context.sdk_version and "sdkVersion" not in base:
            base["sdkVersion"] = context.sdk_version
        self.base_metadata = base
        self.encoded_base_metadata = msgspec.Raw(encode_json(base))
        """Most events add nothing to the request's statsigMetadata: encoded once for them."""
        self.base_stable_id = base.get("stableID")

    def default_time(self) -> int:
        """When an event has no time, it was created when the request was sent."""
        context = self.context
        if context.client_time is not None and (
            self.skew or context.client_time == context.received_at
        ):
            return context.client_time
        return context.received_at

    def record(self, index: int, event: EventFields, user: ResolvedUser | None) -> OutputRecord:
        """The record of event ``index``; ``user`` is its own user, None when it has none.

        Raises ``Rejected`` when the event must become a dead letter.
        """
        prefix = f"$.events[{index}]"
        if user is None:
            if self.request_user.error is not None:
                raise Rejected(DeadLetterReason.INVALID_EVENT, self.request_user.error)
            user = self.request_user.resolved
            if user is None:
                # Every event needs a user (seed 002); only the unit id is optional for some.
                raise Rejected(
                    DeadLetterReason.MISSING_USER,
                    f"no user on the event or the request - at `{prefix}`",
                )
        name = event.eventName
        event_type = classify(name)
        statsig_metadata: dict[str, Any] | msgspec.Raw
        if event.statsigMetadata:
            statsig_metadata = {**self.base_metadata, **event.statsigMetadata}
            stable = statsig_metadata.get("stableID")
        else:
            statsig_metadata, stable = self.encoded_base_metadata, self.base_stable_id
        unit = user.unit
        if unit is None:
            if isinstance(stable, str) and stable:
                unit = "stableID", stable
            elif event_type not in _UNIT_OPTIONAL:
                raise Rejected(
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
            {key: json_text(value) for key, value in event.metadata.items()}
            if event.metadata
            else {}
        )
        value = event.value
        numeric_value = _numeric_value(value, prefix)
        is_exposure = event_type is EventType.EXPOSURE
        timestamp = corrected.timestamp
        # Positional arguments, in field order: measurably cheaper than keywords per event.
        record = EventRecord(
            name,
            user.output,
            user.user_id,
            timestamp,
            "" if value is None else json_text(value),
            metadata,
            statsig_metadata,
            uuid,
            client_time,
            context.received_at,
            corrected.skew_ms,
            corrected.clamped,
            unit[0] if is_exposure and unit else None,
            event.secondaryExposures if is_exposure else None,
        )
        unit_id = unit[1] if unit else None
        return OutputRecord(
            event_type,
            None if unit_id is None else unit_id.encode(),
            encode_json(record),
            name,
            timestamp,
            unit_id,
            numeric_value,
            _exposure_key(name, metadata) if is_exposure else None,
            uuid,
        )

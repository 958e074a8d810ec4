"""The input contract as types: a request body, its events and their users (seeds 000-002).

The constraints of the seeds live in the annotations, so one ``msgspec`` decode both parses and
validates. Unknown fields are ignored by the typed decode, never rejected; the user object is
also kept as sent (see ``ingest``), so fields this schema does not name still reach the output.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

#: Event times are int64 milliseconds; negative ones cannot be placed on a version-1 UUID clock.
EpochMillis = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
#: ``time`` may arrive as a JSON number or as a string of decimal digits.
EventTime = EpochMillis | Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,18}$")]
EventName = Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
CountryCode = Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{2}$")]
NonEmptyString = Annotated[str, msgspec.Meta(min_length=1)]
#: A pragmatic e-mail shape: something@something, no spaces.
Email = Annotated[str, msgspec.Meta(pattern=r"^[^@\s]+@[^@\s]+$")]


class User(msgspec.Struct, omit_defaults=True, gc=False):
    """A Statsig user: identifies the unit an event belongs to."""

    userID: NonEmptyString | None = None
    email: Email | None = None
    name: str | None = None
    ip: str | None = None
    userAgent: str | None = None
    country: CountryCode | None = None
    locale: str | None = None
    appVersion: str | None = None
    custom: dict[str, Any] | None = None
    privateAttributes: dict[str, Any] | None = None
    customIDs: dict[str, str] | None = None
    statsigEnvironment: dict[str, Any] | None = None


class SecondaryExposure(msgspec.Struct, omit_defaults=True, gc=False):
    gate: str | None = None
    gateValue: str | None = None
    ruleID: str | None = None


#: The user of an event that has none.
NO_USER = msgspec.Raw(b"null")


class EventFields(msgspec.Struct, omit_defaults=True, gc=False):
    """The fields of one event besides its user, validated on their own."""

    eventName: EventName
    time: EventTime | None = None
    value: str | int | float | None = None
    metadata: dict[str, Any] | None = None
    secondaryExposures: list[SecondaryExposure] | None = None
    statsigMetadata: dict[str, Any] | None = None
    timeUUID: str | None = None
    timestamp: EventTime | None = None
    """Seed 003's name for the event time, read when ``time`` is absent (re-ingested records)."""


class Event(EventFields, omit_defaults=True):
    """One event of a request, decoded on its own so that a bad one fails alone."""

    user: dict[str, Any] | None = None
    """Kept as sent (extra fields included) and validated against ``User`` separately."""


class TypedEvent(EventFields, omit_defaults=True):
    """One event of a request decoded in one call (``TypedRequest``)."""

    user: msgspec.Raw = NO_USER
    """Left raw: a request's events often share a user, which is then validated only once.
    (msgspec has no ``Raw | None``: an absent user is ``NO_USER``, a null one equals it.)"""


class RequestEnvelope(msgspec.Struct):
    """The request with its events left as raw bytes, so each is decoded and judged alone."""

    events: list[msgspec.Raw]
    user: msgspec.Raw = msgspec.Raw(b"null")
    """Left raw so that a broken shared user fails only the events that rely on it."""
    statsigMetadata: dict[str, Any] | None = None


class TypedRequest(msgspec.Struct, gc=False):
    """The request with every event typed: one decode for a request without a broken event.

    A request this does not fit (any event or field invalid) is read again as a
    ``RequestEnvelope``, event by event, so a bad event fails alone with its own error.
    """

    events: list[TypedEvent]
    user: msgspec.Raw = msgspec.Raw(b"null")
    statsigMetadata: dict[str, Any] | None = None

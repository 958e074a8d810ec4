"""Who an event is about: its own user, else the request's, validated and encoded once.

A user is validated against ``User`` but written out as sent (unknown fields kept), minus
``privateAttributes`` and with its ``ip`` as ``IP_ANONYMIZE`` says; its ``enrichment`` is
derived first, from the ip as sent. Many events of a request share a user (a client SDK sends
one for the whole request, a server SDK repeats the user of one handled request), so a request
resolves each distinct user once (enrichment included) and its events reuse the result.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from processor.config import ProcessorConfig
from processor.enrichment import enrichment_of
from processor.ip_addresses import IpAnonymization, anonymized_ip
from processor.records import encode_json
from processor.rejected import at_path
from processor.schemas import User

PRIVATE = "privateAttributes"
IP = "ip"
_object_decoder = msgspec.json.Decoder(dict[str, Any] | None)


#: The unit an event belongs to: (id type, id value, the value encoded as the record key).
Unit = tuple[str, str, bytes]


def unit_of(id_type: str, id_value: str) -> Unit:
    return id_type, id_value, id_value.encode()


class ResolvedUser(NamedTuple):
    user_id: str | None
    """``userID``, copied to the record's top level."""
    output: msgspec.Raw
    """The user as records carry it (see :func:`outgoing_user`), encoded."""
    unit: Unit | None
    """From ``userID`` or ``customIDs``; None when only ``statsigMetadata.stableID`` could
    name the unit."""
    enrichment: msgspec.Raw | None
    """The record's encoded ``enrichment``; None when disabled or when there is nothing in it."""


def outgoing_user(user: dict[str, Any], anonymization: IpAnonymization) -> dict[str, Any]:
    """A user object as every output writes it: without ``privateAttributes``, its ``ip``
    anonymised (or left out), the other fields as sent and in their order."""
    if anonymization is IpAnonymization.NONE or IP not in user:
        if PRIVATE in user:
            return {name: value for name, value in user.items() if name != PRIVATE}
        return user
    ip = anonymized_ip(user[IP], anonymization)
    return {
        name: ip if name == IP else value
        for name, value in user.items()
        if name != PRIVATE and (name != IP or ip is not None)
    }


def _user_unit(user: User) -> Unit | None:
    """userID, else a customID (stableID first)."""
    if user.userID:
        return unit_of("userID", user.userID)
    ids = user.customIDs
    if ids:
        stable = ids.get("stableID")
        if stable:
            return unit_of("stableID", stable)
        for id_type, value in ids.items():
            if value:
                return unit_of(id_type, value)
    return None


def resolve_user(fields: dict[str, Any], config: ProcessorConfig) -> ResolvedUser:
    """Validate a decoded user object; raises ``msgspec.ValidationError`` if it breaks ``User``."""
    user = msgspec.convert(fields, User)
    output = msgspec.Raw(encode_json(outgoing_user(fields, config.ip_anonymization)))
    enrichment = enrichment_of(user) if config.enrich else None
    return ResolvedUser(user.userID, output, _user_unit(user), enrichment)


class RequestUser:
    """The top-level user, resolved once for all events that carry none of their own."""

    __slots__ = ("error", "fields", "resolved")

    def __init__(self, raw: msgspec.Raw | None, config: ProcessorConfig) -> None:
        self.resolved: ResolvedUser | None = None
        self.fields: dict[str, Any] | None = None
        """As decoded, then as :func:`outgoing_user` writes it: dead letters' ``requestUser``."""
        self.error: str | None = None
        """Why the user is invalid, with its field path; events relying on it are rejected."""
        if raw is None:
            return
        try:
            fields = _object_decoder.decode(raw)
            if fields is None:
                return
            self.resolved = resolve_user(fields, config)
        except msgspec.ValidationError as exc:
            self.error = at_path(exc, "$.user")
            return
        self.fields = outgoing_user(fields, config.ip_anonymization)


class UserCache:
    """The users of one request's events, each resolved once, keyed by the bytes sent."""

    __slots__ = ("_config", "_resolved")

    def __init__(self, config: ProcessorConfig) -> None:
        self._config = config
        self._resolved: dict[bytes, ResolvedUser | None] = {}

    def resolve(self, raw: msgspec.Raw) -> ResolvedUser | None:
        """The event's user, None for ``null``; raises ``msgspec.DecodeError`` when it is
        neither null nor a valid user object."""
        key = bytes(raw)
        if key in self._resolved:
            return self._resolved[key]
        fields = _object_decoder.decode(raw)
        resolved = self._resolved[key] = (
            None if fields is None else resolve_user(fields, self._config)
        )
        return resolved

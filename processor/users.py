"""Who an event is about: its own user, else the request's, validated and encoded once.

A user is validated against ``User`` but written out as sent (unknown fields kept), minus
``privateAttributes``. Many events of a request share a user (a client SDK sends one for the
whole request, a server SDK repeats the user of one handled request), so a request resolves
each distinct user once and its events reuse the result.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import msgspec

from processor.records import encode_json
from processor.rejected import at_path
from processor.schemas import User

PRIVATE = "privateAttributes"
_object_decoder = msgspec.json.Decoder(dict[str, Any] | None)


#: The unit an event belongs to: (id type, id value, the value encoded as the record key).
Unit = tuple[str, str, bytes]


def unit_of(id_type: str, id_value: str) -> Unit:
    return id_type, id_value, id_value.encode()


class ResolvedUser(NamedTuple):
    user_id: str | None
    """``userID``, copied to the record's top level."""
    output: msgspec.Raw
    """The user as records carry it: as sent, without ``privateAttributes``, encoded."""
    unit: Unit | None
    """From ``userID`` or ``customIDs``; None when only ``statsigMetadata.stableID`` could
    name the unit."""


def without_private(user: dict[str, Any]) -> dict[str, Any]:
    if PRIVATE in user:
        return {name: value for name, value in user.items() if name != PRIVATE}
    return user


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


def resolve_user(fields: dict[str, Any]) -> ResolvedUser:
    """Validate a decoded user object; raises ``msgspec.ValidationError`` if it breaks ``User``."""
    user = msgspec.convert(fields, User)
    output = msgspec.Raw(encode_json(without_private(fields)))
    return ResolvedUser(user.userID, output, _user_unit(user))


class RequestUser:
    """The top-level user, resolved once for all events that carry none of their own."""

    __slots__ = ("error", "fields", "resolved")

    def __init__(self, raw: msgspec.Raw | None) -> None:
        self.resolved: ResolvedUser | None = None
        self.fields: dict[str, Any] | None = None
        """As decoded, privateAttributes removed: what dead letters carry as ``requestUser``."""
        self.error: str | None = None
        """Why the user is invalid, with its field path; events relying on it are rejected."""
        if raw is None:
            return
        try:
            fields = _object_decoder.decode(raw)
            if fields is None:
                return
            self.resolved = resolve_user(fields)
        except msgspec.ValidationError as exc:
            self.error = at_path(exc, "$.user")
            return
        self.fields = without_private(fields)


class UserCache:
    """The users of one request's events, each resolved once, keyed by the bytes sent."""

    __slots__ = ("_resolved",)

    def __init__(self) -> None:
        self._resolved: dict[bytes, ResolvedUser | None] = {}

    def resolve(self, raw: msgspec.Raw) -> ResolvedUser | None:
        """The event's user, None for ``null``; raises ``msgspec.DecodeError`` when it is
        neither null nor a valid user object."""
        key = bytes(raw)
        if key in self._resolved:
            return self._resolved[key]
        fields = _object_decoder.decode(raw)
        resolved = self._resolved[key] = None if fields is None else resolve_user(fields)
        return resolved

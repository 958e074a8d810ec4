"""Stable dead-letter reason codes: consumers filter and replay by these, so they never change."""

from enum import StrEnum


class DeadLetterReason(StrEnum):
    INVALID_ENCODING = "invalid_encoding"
    """The body could not be decompressed with its ``content-encoding``."""
    PAYLOAD_TOO_LARGE = "payload_too_large"
    """The body inflates past the configured cap (a compression bomb, or simply too big)."""
    INVALID_JSON = "invalid_json"
    """The body is not UTF-8 JSON."""
    INVALID_REQUEST = "invalid_request"
    """JSON, but neither ``{"events": [...]}`` with at least one event nor a bare event array."""
    INVALID_EVENT = "invalid_event"
    """One event breaks the event schema; ``error`` names the field path."""
    MISSING_USER = "missing_user"
    """Neither the event nor the request carries a user."""
    MISSING_UNIT_ID = "missing_unit_id"
    """An exposure or custom event whose user has no userID, customIDs value or stableID."""

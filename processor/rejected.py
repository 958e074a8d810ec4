"""An event or request that becomes a dead letter, and the field path its error names."""

from __future__ import annotations

import msgspec

from processor.reasons import DeadLetterReason


class Rejected(Exception):
    """An event that becomes a dead letter; carries the reason and the field path."""

    def __init__(self, reason: DeadLetterReason, error: str) -> None:
        super().__init__(error)
        self.reason = reason
        self.error = error


def at_path(error: msgspec.ValidationError, prefix: str) -> str:
    """Re-root a msgspec error path (``$.user.country``) under the request (``$.events[3]...``)."""
    message = str(error)
    if "`$" in message:
        return message.replace("`$", f"`{prefix}", 1)
    return f"{message} - at `{prefix}`"

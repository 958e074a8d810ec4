"""Which per-type topic an event belongs to, by its name alone (DESIGN §3, Classification)."""

from enum import StrEnum


class EventType(StrEnum):
    EXPOSURE = "exposure"
    CUSTOM = "custom"
    CONFIG_CHANGE = "config_change"
    DIAGNOSTIC = "diagnostic"


#: Exposure event name -> the kind of entity exposed, used as the exposure metric's first key.
EXPOSURE_KINDS: dict[str, str] = {
    "statsig::gate_exposure": "gate",
    "statsig::config_exposure": "config",
    "statsig::experiment_exposure": "experiment",
    "statsig::layer_exposure": "layer",
}
_EXACT = {name: EventType.EXPOSURE for name in EXPOSURE_KINDS}
_EXACT["statsig::config_change"] = EventType.CONFIG_CHANGE
_STATSIG_PREFIX = "statsig::"


def classify(event_name: str) -> EventType:
    """Exposure and config-change names are exact; other ``statsig::`` names are diagnostics."""
    kind = _EXACT.get(event_name)
    if kind is not None:
        return kind
    if event_name.startswith(_STATSIG_PREFIX):
        return EventType.DIAGNOSTIC
    return EventType.CUSTOM

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
#: Names classified exactly -> (type, exposure kind or None): one lookup gives both.
EXACT_NAMES: dict[str, tuple[EventType, str | None]] = {
    name: (EventType.EXPOSURE, kind) for name, kind in EXPOSURE_KINDS.items()
}
EXACT_NAMES["statsig::config_change"] = (EventType.CONFIG_CHANGE, None)
STATSIG_PREFIX = "statsig::"


def classify(event_name: str) -> EventType:
    """Exposure and config-change names are exact; other ``statsig::`` names are diagnostics."""
    exact = EXACT_NAMES.get(event_name)
    if exact is not None:
        return exact[0]
    if event_name.startswith(STATSIG_PREFIX):
        return EventType.DIAGNOSTIC
    return EventType.CUSTOM

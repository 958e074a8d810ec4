"""The limits, tolerances and output choices of the event core, filled from the settings."""

from __future__ import annotations

import msgspec

from processor.ip_addresses import IpAnonymization


class ProcessorConfig(msgspec.Struct, frozen=True):
    """Limits, tolerances and output choices of the event core; the worker fills it from its
    settings."""

    max_body_bytes: int = 8 * 1024 * 1024
    """Largest request body accepted after decompression."""
    future_tolerance_ms: int = 1_000
    """How far past received-at a corrected time may lie before it is clamped."""
    max_clock_skew_ms: int = 365 * 24 * 3_600_000
    """A client time further than this from received-at is not sane: no correction."""
    clock_skew_granularity_ms: int = 1_000
    """The skew is rounded to a multiple of this: transit time is not clock error."""
    dead_letter_max_original_bytes: int = 256 * 1024
    """Originals larger than this are left out of dead letters (the raw topic still has them)."""
    enrich: bool = True
    """Whether records carry an ``enrichment`` (country, browser, OS, device; DESIGN §4)."""
    ip_anonymization: IpAnonymization = IpAnonymization.NONE
    """How a user's ip is written to every output, dead letters included."""


DEFAULT_CONFIG = ProcessorConfig()

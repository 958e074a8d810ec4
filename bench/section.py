"""What a benchmark section is: a function of the run options that returns measured rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured number."""

    metric: str
    value: float
    unit: str


@dataclass(frozen=True)
class RunOptions:
    quick: bool = False
    """Fewer and shorter repeats: a smoke run that finishes in seconds, with noisier numbers."""
    tiny: bool = False
    """The end-to-end sections with tiny inputs and runs of seconds: proves they work, no more."""
    soak_minutes: float = 0.0
    """When above 0, the memory section runs this long instead of its short default."""
    broker: str = "embedded"
    """Where the end-to-end sections run: ``embedded`` (Tansu) or ``kafka`` (a local Apache
    Kafka node, see ``agents.kafka.apache_kafka``)."""


#: A section measures one aspect and returns its rows; it must not print fake numbers.
Section = Callable[[RunOptions], list[Row]]

"""A soak's worker settings are ones the worker accepts, and bound its stores to a fifth of it."""

from __future__ import annotations

import pytest

from agents.settings import Settings
from bench.memory import seconds, soak_overrides
from bench.section import RunOptions


def test_a_soak_bounds_the_dedup_window_and_the_metric_retention(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    options = RunOptions(soak_minutes=10)
    overrides = soak_overrides(options)
    for name, value in overrides.items():
        monkeypatch.setenv(name, value)
    settings = Settings.from_env()  # the worker would refuse to start otherwise
    assert settings.dedup_window_ms == settings.metrics_window.retention_ms == 120_000
    assert settings.dedup_window_ms <= seconds(options) * 1000 / 5
    assert soak_overrides(RunOptions()) == {}

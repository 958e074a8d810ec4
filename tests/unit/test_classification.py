"""DESIGN §3, Classification: the per-type topic of an event, by its name alone."""

from __future__ import annotations

import pytest
from raw_messages import body, event, only_record, process

from processor import EventType, classify

EXPOSURES = [
    "statsig::gate_exposure",
    "statsig::config_exposure",
    "statsig::experiment_exposure",
    "statsig::layer_exposure",
]


def processed_type(name: str) -> EventType:
    return only_record(process(body(event(name)))).type


@pytest.mark.parametrize("name", EXPOSURES)
def test_the_four_exposure_names_are_exposures(name: str) -> None:
    assert classify(name) is EventType.EXPOSURE
    assert processed_type(name) is EventType.EXPOSURE


def test_config_change_is_its_own_type() -> None:
    assert classify("statsig::config_change") is EventType.CONFIG_CHANGE
    assert processed_type("statsig::config_change") is EventType.CONFIG_CHANGE


@pytest.mark.parametrize(
    "name", ["statsig::diagnostics", "statsig::log_event_failed", "statsig::", "statsig::gate"]
)
def test_any_other_statsig_name_is_a_diagnostic(name: str) -> None:
    assert classify(name) is EventType.DIAGNOSTIC
    assert processed_type(name) is EventType.DIAGNOSTIC


@pytest.mark.parametrize(
    "name",
    ["page_view", "add_to_cart", "Statsig::gate_exposure", "statsig:gate_exposure", "x statsig::"],
)
def test_every_other_name_is_custom(name: str) -> None:
    assert classify(name) is EventType.CUSTOM
    assert processed_type(name) is EventType.CUSTOM

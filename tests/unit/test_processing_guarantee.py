"""PROCESSING_GUARANTEE: at least once by default; exactly once only where there are
transactions, so the worker refuses it on the embedded broker, at start, saying why."""

from __future__ import annotations

import pytest

from agents.settings import ProcessingGuarantee, SettingError, Settings
from tests.unit.fresh_process import start_refusal


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, ProcessingGuarantee.AT_LEAST_ONCE),
        ({"PROCESSING_GUARANTEE": "at_least_once"}, ProcessingGuarantee.AT_LEAST_ONCE),
        (
            {"PROCESSING_GUARANTEE": "Exactly_Once", "KAFKA_BROKER": "kafka://127.0.0.1:9"},
            ProcessingGuarantee.EXACTLY_ONCE,
        ),
    ],
)
def test_the_guarantee_is_read_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: ProcessingGuarantee
) -> None:
    for name in ("PROCESSING_GUARANTEE", "KAFKA_BROKER"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert Settings.from_env().processing_guarantee is expected


def test_an_unknown_guarantee_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PROCESSING_GUARANTEE", "at_most_once")
    with pytest.raises(SettingError, match="PROCESSING_GUARANTEE must be one of"):
        Settings.from_env()


def test_the_worker_refuses_exactly_once_on_the_embedded_broker() -> None:
    last = start_refusal(PROCESSING_GUARANTEE="exactly_once")
    assert last.startswith("refusing to start: PROCESSING_GUARANTEE=exactly_once needs a broker")
    assert "embedded broker refuses transactional producers" in last

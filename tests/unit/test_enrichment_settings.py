"""ENRICH and IP_ANONYMIZE reach the core's config; a value the worker does not know stops it
at start, with a message that names the setting and what it accepts."""

from __future__ import annotations

import pytest

from agents.settings import SettingError, Settings
from processor import IpAnonymization
from tests.unit.fresh_process import start_refusal


@pytest.mark.parametrize(
    ("env", "enrich", "mode"),
    [
        ({}, True, IpAnonymization.NONE),
        ({"ENRICH": "false", "IP_ANONYMIZE": "truncate"}, False, IpAnonymization.TRUNCATE),
        ({"ENRICH": "0", "IP_ANONYMIZE": "DROP"}, False, IpAnonymization.DROP),
        ({"ENRICH": "Yes", "IP_ANONYMIZE": " none "}, True, IpAnonymization.NONE),
        ({"ENRICH": "", "IP_ANONYMIZE": ""}, True, IpAnonymization.NONE),
    ],
)
def test_settings_fill_the_core_config(
    monkeypatch: pytest.MonkeyPatch, env: dict[str, str], enrich: bool, mode: IpAnonymization
) -> None:
    for name in ("ENRICH", "IP_ANONYMIZE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    config = Settings.from_env().processor
    assert (config.enrich, config.ip_anonymization) == (enrich, mode)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("IP_ANONYMIZE", "hash", "IP_ANONYMIZE must be one of none, truncate, drop, not 'hash'"),
        ("ENRICH", "maybe", "ENRICH must be true or false, not 'maybe'"),
    ],
)
def test_an_unknown_value_is_refused(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, message: str
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingError, match=message):
        Settings.from_env()


def test_the_worker_refuses_to_start_with_an_unknown_mode() -> None:
    assert start_refusal(IP_ANONYMIZE="mask") == (
        "refusing to start: IP_ANONYMIZE must be one of none, truncate, drop, not 'mask'"
    )

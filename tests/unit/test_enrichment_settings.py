"""ENRICH and IP_ANONYMIZE reach the core's config; a value the worker does not know stops it
at start, with a message that names the setting and what it accepts."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from agents.settings import SettingError, Settings
from processor import IpAnonymization

REPO = Path(__file__).resolve().parents[2]


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
    completed = subprocess.run(
        [sys.executable, "-m", "agents.run"],
        cwd=REPO,
        env={"PATH": "/usr/bin:/bin", "IP_ANONYMIZE": "mask"},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert completed.returncode == 1
    assert completed.stderr.strip().splitlines()[-1] == (
        "refusing to start: IP_ANONYMIZE must be one of none, truncate, drop, not 'mask'"
    )
